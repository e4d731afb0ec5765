// The run page: what GET api/runs/RUN returns (= `oproc why --json`), again whenever the status changes.
import { getJson, h, link, live, showError, stamp, statusChip, table, when } from './common.js';

const run = location.pathname.split('/').filter(Boolean).pop();
const query = new URLSearchParams(location.search);
const content = document.getElementById('content');

function verdictClass(verdict) {
  const word = String(verdict ?? '').split(/[:\s]/)[0];
  if (/^(held|locked|blocked|failed|skipped|incomplete)$/.test(word)) return 'verdict held';
  if (/^(handled|done|created|processed)$/.test(word)) return 'verdict done';
  return 'verdict waiting';
}

/** Sections with many columns take the page's width. */
const wide = new Set(['watchers', 'passes']);

function title(key) {
  return key.replace(/_/g, ' ').replace(/^\w/, (c) => c.toUpperCase());
}

function scalar(key, value) {
  if (key === 'status' && typeof value === 'string') return statusChip(value);
  if (typeof value === 'boolean') return value ? 'yes' : 'no';
  if (typeof value === 'string' && /^\d{4}-\d\d-\d\dT/.test(value))
    return h('span', { class: 'nowrap' }, when(value));
  return value ?? '–';
}

/** Any part of the why report: arrays of objects as tables, objects as lists, the rest as text. */
function render(key, value) {
  if (Array.isArray(value)) {
    if (value.length === 0) return h('span', { class: 'muted' }, 'none');
    if (value.every((v) => v && typeof v === 'object' && !Array.isArray(v))) {
      const columns = [...new Set(value.flatMap((v) => Object.keys(v)))];
      const rows = value.map((v) =>
        h(
          'tr',
          {},
          columns.map((c) => h('td', {}, cell(c, v[c]))),
        ),
      );
      return table(columns.map(title), rows);
    }
    return value
      .map((v) => (typeof v === 'string' && key === 'statuses' ? statusChip(v) : String(v)))
      .join(', ');
  }
  if (value && typeof value === 'object') {
    return h(
      'dl',
      {},
      Object.entries(value).map(([k, v]) => [
        h('dt', {}, title(k)),
        h('dd', { dataset: { key: k } }, render(k, v)),
      ]),
    );
  }
  return scalar(key, value);
}

function cell(key, value) {
  if (value && typeof value === 'object') return render(key, value);
  return scalar(key, value);
}

async function load() {
  const meta = await getJson('api/meta');
  const ratv = query.get('ratv') ?? meta.ratvs[meta.ratvs.length - 1];
  const filetype = query.get('filetype') ?? 'L2';
  document.title = `oproc · run ${run}`;
  const choose = h(
    'nav',
    { class: 'choose' },
    h('span', { class: 'muted' }, 'as seen by: '),
    meta.ratvs.flatMap((r) =>
      meta.filetypes.map((f) =>
        h(
          'a',
          {
            href: link(`runs/${run}?ratv=${encodeURIComponent(r)}&filetype=${f}`),
            'aria-current': r === ratv && f === filetype ? 'page' : undefined,
          },
          `${r} ${f}`,
        ),
      ),
    ),
  );
  const refresh = async () => {
    try {
      const why = await getJson(`api/runs/${run}?ratv=${encodeURIComponent(ratv)}&filetype=${filetype}`);
      showError(null);
      const header = ['verdict', 'verdict_kind', 'run', 'ratv', 'filetype', 'ratdb_tag'];
      const sections = Object.entries(why).filter(([k]) => !header.includes(k));
      content.replaceChildren(
        h(
          'h2',
          {},
          `Run ${run}`,
          h(
            'span',
            { class: 'muted' },
            ` RAT ${ratv} ${filetype}`,
            why.ratdb_tag ? ` · RATDB tag ${why.ratdb_tag}` : '',
          ),
        ),
        choose,
        h('p', { class: verdictClass(why.verdict), dataset: { testid: 'verdict' } }, why.verdict),
        h(
          'div',
          { class: 'grid' },
          sections.map(([k, v]) =>
            h(
              'section',
              { class: wide.has(k) ? 'card wide' : 'card', dataset: { section: k } },
              h('h3', {}, title(k)),
              render(k, v),
            ),
          ),
        ),
      );
      stamp({});
      document.body.dataset.rendered = new Date().toISOString();
    } catch (error) {
      content.replaceChildren(h('h2', {}, `Run ${run}`), choose);
      showError(error.message);
      document.body.dataset.rendered = 'error';
    }
  };
  await refresh();
  live(() => refresh());
}

load().catch((error) => showError(error.message));
