// A submission's passes (GET api/submissions/ID, read as `oproc passes --submission ID` reads them).
import {
  chart,
  getJson,
  h,
  link,
  live,
  showError,
  stamp,
  statusBarSpec,
  statusChip,
  table,
  when,
} from './common.js';

const id = decodeURIComponent(location.pathname.split('/').filter(Boolean).pop());
const content = document.getElementById('content');
const bars = h('div', { class: 'chart' });

async function refresh() {
  try {
    const s = await getJson(`api/submissions/${encodeURIComponent(id)}`);
    showError(null);
    const rows = s.passes.map((p) =>
      h(
        'tr',
        { dataset: { testid: 'pass' } },
        h(
          'td',
          { class: 'num' },
          h(
            'a',
            { href: link(`runs/${p.run}?ratv=${encodeURIComponent(p.ratv)}&filetype=${p.filetype}`) },
            p.run,
          ),
        ),
        h('td', {}, p.module),
        h('td', { class: 'num' }, p.pass),
        h('td', {}, statusChip(p.status)),
        h('td', {}, when(p.created)),
      ),
    );
    content.replaceChildren(
      h('h2', {}, 'Submission ', h('code', {}, s.id)),
      h(
        'p',
        {},
        `${s.mode} · RAT ${s.ratv} ${s.filetype} · ${s.done} of ${s.runs} runs done · started ${when(s.started)} · `,
        s.finished ? `finished ${when(s.finished)}` : h('span', { class: 'badge' }, 'not finished'),
      ),
      h(
        'div',
        { class: 'grid' },
        h(
          'section',
          { class: 'card wide' },
          h('h3', {}, `${s.total_passes} passes by status per module`),
          bars,
        ),
        h(
          'section',
          { class: 'card wide' },
          h('h3', {}, 'Passes'),
          s.passes.length
            ? table(['run', 'module', 'pass', 'status', 'created'], rows)
            : h('p', { class: 'muted' }, 'No passes.'),
          s.truncated
            ? h(
                'p',
                { class: 'small muted' },
                `first ${s.passes.length} of ${s.total_passes}: oproc passes CONFIG --submission ${s.id} lists all`,
              )
            : null,
        ),
      ),
    );
    if (Object.keys(s.counts).length) await chart(bars, statusBarSpec(s.counts));
    stamp({});
    document.body.dataset.rendered = new Date().toISOString();
  } catch (error) {
    showError(error.message);
    document.body.dataset.rendered = 'error';
  }
}

refresh().then(() => live(() => refresh()));
