// Shared by the status page, the run page, the submission page and the outlist page: status colours, DOM helpers,
// charts and the live connection. Pages render the JSON endpoints; nothing here keeps documents.

/**
 * Each pass status keeps one colour everywhere: charts, tables, chips. Order as the grid tools list
 * them. No two alike: waiting is the one grey; canceled (a person stopped it) brown, deleted black.
 */
export const statusColours = {
  waiting: '#9aa5b1',
  new: '#7fd3e6',
  submitted: '#3b7dd8',
  running: '#f5c518',
  completed: '#2e9e5b',
  failed: '#d64541',
  partFail: '#f07f3c',
  unsatisfied: '#8e5cc7',
  canceled: '#8a5a2b',
  deleted: '#1f2933',
};
export const statuses = Object.keys(statusColours);

/** The server's root, relative to this page (the page may sit behind a proxy under any path). */
export const root = new URL(document.body.dataset.root ?? './', location.href);

export function api(pathAndQuery) {
  return new URL(pathAndQuery, root).href;
}

export function link(pathAndQuery) {
  return new URL(pathAndQuery, root).pathname + new URL(pathAndQuery, root).search;
}

export async function getJson(pathAndQuery) {
  const response = await fetch(api(pathAndQuery), { headers: { accept: 'application/json' } });
  const body = await response.json().catch(() => ({ error: `${response.status} ${response.statusText}` }));
  if (!response.ok) {
    const error = new Error(body.error ?? `${response.status} ${response.statusText}`);
    error.status = response.status;
    throw error;
  }
  return body;
}

/** `h('td', { class: 'x', dataset: { run: 1 } }, 'text', child)` */
export function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'dataset') Object.assign(element.dataset, value);
    else if (key === 'class') element.className = value;
    else if (key === 'style') element.style.cssText = value;
    else element.setAttribute(key, value === true ? '' : String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return element;
}

export function statusChip(status) {
  const colour = statusColours[status] ?? '#777';
  return h('span', { class: 'chip', style: `--chip:${colour}`, dataset: { status } }, status);
}

export function table(headers, rows, attributes = {}) {
  return h(
    'table',
    attributes,
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        headers.map((title) => h('th', {}, title)),
      ),
    ),
    h('tbody', {}, rows),
  );
}

/** 2026-11-30T10:00:01.123Z as "2026-11-30 10:00:01 UTC"; other values as they are. */
export function when(value) {
  if (typeof value !== 'string') return value ?? '–';
  const match = /^(\d{4}-\d\d-\d\d)T(\d\d:\d\d:\d\d)/.exec(value);
  return match ? `${match[1]} ${match[2]} UTC` : value;
}

export function age(seconds) {
  if (typeof seconds !== 'number') return '–';
  if (seconds < 120) return `${seconds} s ago`;
  if (seconds < 7200) return `${Math.round(seconds / 60)} min ago`;
  if (seconds < 172800) return `${Math.round(seconds / 3600)} h ago`;
  return `${Math.round(seconds / 86400)} days ago`;
}

/**
 * How a watcher stands, for a shifter: alive, done (a finished block), stopped (it released its lease
 * on a clean exit: nothing to worry about) or stale (no live lease: it died, hangs or stopped on an
 * error: an alarm). The status says which: `stale`, and `stopped` (when the lease was released).
 */
export function watcherState(w) {
  if (w.done) return { kind: 'done', text: 'done', detail: null };
  if (w.stale) return { kind: 'stale', text: 'STALE', detail: w.stale_reason ?? null };
  if (w.stopped) return { kind: 'stopped', text: 'stopped', detail: `at ${when(w.stopped)}` };
  return { kind: 'alive', text: 'alive', detail: null };
}

/** A watcher's state as a chip (red only for a stale one), and what it says beside: "stopped at TIME". */
export function watcherBadge(state) {
  const tone = { alive: 'badge good', stale: 'badge bad', stopped: 'badge', done: 'badge' }[state.kind];
  return h(
    'span',
    { class: 'watcher-state', dataset: { testid: 'watcher-state' } },
    h('span', { class: tone, dataset: { state: state.kind } }, state.text),
    state.detail
      ? h('span', { class: state.kind === 'stale' ? 'small block' : 'small' }, ` ${state.detail}`)
      : null,
  );
}

/**
 * The box "Run [ ] Open" in the header of every page. On a run page it keeps the RAT version and
 * filetype shown; elsewhere it opens /runs/RUN, which lists them.
 */
function runBox() {
  const form = document.getElementById('open-run');
  if (!form) return;
  const query = new URLSearchParams(location.search);
  if (document.body.dataset.page === 'run' && query.get('ratv') && query.get('filetype')) {
    for (const name of ['ratv', 'filetype'])
      form.append(h('input', { type: 'hidden', name, value: query.get(name) }));
  }
  form.addEventListener('submit', (event) => {
    const run = form.elements.run.value.trim();
    if (!/^\d{1,10}$/.test(run)) return;
    event.preventDefault();
    const keep = new URLSearchParams();
    for (const name of ['ratv', 'filetype'])
      if (form.elements[name]) keep.set(name, form.elements[name].value);
    location.href = link(`runs/${run}${keep.size ? `?${keep}` : ''}`);
  });
}
runBox();

const views = new WeakMap();

/** Draws a Vega-Lite spec into `element`, again only when the spec changed (no flicker on live updates). */
export async function chart(element, spec) {
  const text = JSON.stringify(spec);
  const previous = views.get(element);
  if (previous?.text === text) return;
  previous?.result.finalize();
  const result = await window.vegaEmbed(element, spec, { actions: false, renderer: 'svg' });
  views.set(element, { text, result });
}

/** The stacked bar of passes per module by status, each status in its colour. */
export function statusBarSpec(counts, { title } = {}) {
  const modules = Object.keys(counts);
  const values = modules.flatMap((module) =>
    statuses
      .filter((status) => counts[module][status])
      .map((status) => ({ module, status, count: counts[module][status], order: statuses.indexOf(status) })),
  );
  const present = statuses.filter((s) => values.some((v) => v.status === s));
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title,
    width: 'container',
    height: Math.max(40, modules.length * 32),
    data: { values },
    mark: { type: 'bar', tooltip: true },
    encoding: {
      y: { field: 'module', type: 'nominal', sort: modules, title: null, axis: { labelFontSize: 13 } },
      x: {
        field: 'count',
        type: 'quantitative',
        stack: 'zero',
        title: 'passes',
        axis: { tickCount: 8, tickMinStep: 1 },
      },
      color: {
        field: 'status',
        type: 'nominal',
        title: 'status',
        scale: { domain: statuses, range: statuses.map((s) => statusColours[s]) },
        legend: { orient: 'bottom', values: present, direction: 'horizontal', columns: 5 },
      },
      order: { field: 'order', type: 'quantitative' },
      tooltip: [
        { field: 'module', type: 'nominal' },
        { field: 'status', type: 'nominal' },
        { field: 'count', type: 'quantitative' },
      ],
    },
    config: { view: { stroke: null }, font: 'system-ui, sans-serif' },
  };
}

/**
 * Follows the server's event stream: `onStatus` with each new status report. The dot in the header
 * says whether the page is live.
 */
export function live(onStatus) {
  const dot = document.getElementById('live');
  const say = (state, text) => {
    if (!dot) return;
    dot.dataset.state = state;
    dot.textContent = text;
  };
  const source = new EventSource(api('api/events'));
  source.addEventListener('open', () => say('live', 'live'));
  source.addEventListener('error', () => say('down', 'reconnecting…'));
  source.addEventListener('status', (event) => {
    say('live', 'live');
    onStatus(JSON.parse(event.data));
  });
  return source;
}

export function stamp(report) {
  const element = document.getElementById('updated');
  if (element) element.textContent = `updated ${when(report.generated ?? new Date().toISOString())}`;
}

export function showError(message) {
  const element = document.getElementById('error');
  if (!element) return;
  element.hidden = !message;
  element.textContent = message ?? '';
}

/**
 * The cards of a list of passes (a submission's, an outlist's): the stacked bar of all of them and
 * the table of the first ones, with `more` said when the list was cut. Pass the same `bars` element
 * on every refresh: the chart is then drawn again only when its numbers changed.
 */
export function passesCards(view, more, bars = h('div', { class: 'chart' })) {
  const rows = view.passes.map((p) =>
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
  const cards = [
    h(
      'section',
      { class: 'card wide' },
      h('h3', {}, `${view.total_passes} passes by status per module`),
      bars,
    ),
    h(
      'section',
      { class: 'card wide' },
      h('h3', {}, 'Passes'),
      view.passes.length
        ? table(['run', 'module', 'pass', 'status', 'created'], rows)
        : h('p', { class: 'muted' }, 'No passes.'),
      view.truncated
        ? h('p', { class: 'small muted' }, `first ${view.passes.length} of ${view.total_passes}: ${more}`)
        : null,
    ),
  ];
  const drawn = Object.keys(view.counts).length ? chart(bars, statusBarSpec(view.counts)) : Promise.resolve();
  return { cards, drawn };
}
