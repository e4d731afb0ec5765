// The passes an outlist names (POST api/outlist, read as `oproc passes --exactly OUTLIST` reads them).
// The outlist is chosen or pasted here and kept in this tab's session, so live updates and a reload
// show the same passes again. The server reads it and changes nothing.
import { api, h, live, passesCards, showError, stamp, table } from './common.js';

const content = document.getElementById('content');
const bars = h('div', { class: 'chart' });
const results = h('div', { id: 'outlist-results' });
const stored = 'oproc-outlist';

const fileInput = h('input', { type: 'file', id: 'outlist-file', accept: '.txt,.list,.out,text/plain' });
const textArea = h('textarea', {
  id: 'outlist-text',
  rows: 6,
  spellcheck: 'false',
  placeholder: 'Processing\t300000\t1\nAnalysis\t300000\t1',
});
const showButton = h('button', { type: 'submit' }, 'Show passes');

let current = JSON.parse(sessionStorage.getItem(stored) ?? 'null');

async function postOutlist({ name, text }) {
  const response = await fetch(api(`api/outlist?name=${encodeURIComponent(name)}`), {
    method: 'POST',
    headers: { 'content-type': 'text/plain; charset=utf-8', accept: 'application/json' },
    body: text,
  });
  const body = await response.json().catch(() => ({ error: `${response.status} ${response.statusText}` }));
  if (!response.ok) throw new Error(body.error ?? `${response.status} ${response.statusText}`);
  return body;
}

function missingCard(view) {
  if (view.total_missing === 0) return null;
  const rows = view.missing.map((m) =>
    h(
      'tr',
      { dataset: { testid: 'missing' } },
      h('td', {}, m.module),
      h('td', { class: 'num' }, m.run),
      h('td', { class: 'num' }, m.pass),
      h('td', {}, m.reason),
    ),
  );
  return h(
    'section',
    { class: 'card wide' },
    h('h3', { class: 'bad' }, `${view.total_missing} lines name no pass in the processing database`),
    table(['module', 'run', 'pass', 'why'], rows),
    view.total_missing > view.missing.length
      ? h('p', { class: 'small muted' }, `first ${view.missing.length} of ${view.total_missing}`)
      : null,
  );
}

async function refresh() {
  if (!current) {
    document.body.dataset.rendered = 'empty';
    return;
  }
  try {
    const view = await postOutlist(current);
    showError(null);
    const { cards, drawn } = passesCards(view, `oproc passes CONFIG --exactly OUTLIST lists all`, bars);
    results.replaceChildren(
      h(
        'p',
        { dataset: { testid: 'outlist-summary' } },
        `${view.name}: ${view.lines} lines, ${view.total_passes} passes found`,
      ),
      h('div', { class: 'grid' }, missingCard(view), cards),
    );
    await drawn;
    stamp({});
    document.body.dataset.rendered = new Date().toISOString();
  } catch (error) {
    results.replaceChildren();
    showError(error.message);
    document.body.dataset.rendered = 'error';
  }
}

function show(outlist) {
  current = outlist;
  sessionStorage.setItem(stored, JSON.stringify(outlist));
  return refresh();
}

fileInput.addEventListener('change', async () => {
  const file = fileInput.files?.[0];
  if (!file) return;
  textArea.value = '';
  await show({ name: file.name, text: await file.text() });
});

const form = h(
  'form',
  { class: 'card wide outlist-form' },
  h('h3', {}, 'Passes of an outlist'),
  h(
    'p',
    { class: 'small muted' },
    'An outlist is what --outlist FILE writes: one MODULE RUN PASS per line. Choose one, or paste its lines. ',
    'It is read here and by the server, and never stored.',
  ),
  h('label', {}, 'File: ', fileInput),
  h('label', { class: 'block' }, 'or lines:', textArea),
  showButton,
);
form.addEventListener('submit', (event) => {
  event.preventDefault();
  void show({ name: 'the pasted lines', text: textArea.value });
});

content.replaceChildren(h('h2', {}, 'Passes of an outlist'), form, results);
if (current?.name === 'the pasted lines') textArea.value = current.text;
refresh().then(() => live(() => refresh()));
