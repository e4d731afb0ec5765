// A submission's passes (GET api/submissions/ID, read as `oproc passes --submission ID` reads them).
import { getJson, h, live, passesCards, showError, stamp, when } from './common.js';

const id = decodeURIComponent(location.pathname.split('/').filter(Boolean).pop());
const content = document.getElementById('content');
const bars = h('div', { class: 'chart' });

async function refresh() {
  try {
    const s = await getJson(`api/submissions/${encodeURIComponent(id)}`);
    showError(null);
    const { cards, drawn } = passesCards(s, `oproc passes CONFIG --submission ${s.id} lists all`, bars);
    content.replaceChildren(
      h('h2', {}, 'Submission ', h('code', {}, s.id)),
      h(
        'p',
        {},
        `${s.mode} · RAT ${s.ratv} ${s.filetype} · ${s.done} of ${s.runs} runs done · started ${when(s.started)} · `,
        s.finished ? `finished ${when(s.finished)}` : h('span', { class: 'badge' }, 'not finished'),
      ),
      h('div', { class: 'grid' }, cards),
    );
    await drawn;
    stamp({});
    document.body.dataset.rendered = new Date().toISOString();
  } catch (error) {
    showError(error.message);
    document.body.dataset.rendered = 'error';
  }
}

refresh().then(() => live(() => refresh()));
