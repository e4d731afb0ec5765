// The status page: renders what GET api/status returns (= `oproc status --json`), and again on each
// report the event stream brings.
import {
  age,
  chart,
  getJson,
  h,
  link,
  live,
  showError,
  stamp,
  statusBarSpec,
  statusChip,
  statusColours,
  statuses,
  table,
  watcherBadge,
  watcherState,
  when,
} from './common.js';

const wanted = new URLSearchParams(location.search).get('ratv') ?? '';
const content = document.getElementById('content');
const sections = new Map();
/** From api/meta: the lease length (to tell a stopped watcher from a stale one) and whether the database is embedded. */
let meta = {};

/** Every status count as a table cell the tests (and a shifter's eye) can read. */
function countsTable(ratv, scope, counts) {
  const modules = Object.keys(counts);
  const present = statuses.filter((s) => modules.some((m) => counts[m][s]));
  const rows = modules.map((module) => {
    const cells = present.map((status) =>
      h('td', { class: 'num', dataset: { ratv, scope, module, status } }, counts[module][status] ?? 0),
    );
    const total = Object.values(counts[module]).reduce((a, b) => a + b, 0);
    return h('tr', {}, h('th', { scope: 'row' }, module), cells, h('td', { class: 'num total' }, total));
  });
  if (modules.length === 0) return h('p', { class: 'muted' }, 'No passes yet.');
  return table(['module', ...present.map((s) => statusChip(s)), 'total'], rows, { class: 'counts' });
}

/**
 * The 28 days `oproc status` reports (UTC days, as every time on the page), a bar per day on a band
 * scale: each bar sits on its own day, and the labelled ticks (every 7th day back from today, and
 * today) are the bars' own centres.
 */
export function daysSpec(perDay, now = new Date()) {
  let values = perDay.map((d) => ({ day: d.day, runs: d.runs ?? 0, passes: d.passes ?? 0 }));
  if (values.length === 0) {
    for (let back = 27; back >= 0; back--) {
      const day = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() - back));
      values.push({ day: day.toISOString().slice(0, 10), runs: 0, passes: 0 });
    }
  }
  values = [...values].sort((a, b) => a.day.localeCompare(b.day));
  const days = values.map((v) => v.day);
  const today = days[days.length - 1];
  const labelled = days.filter((_day, i) => (days.length - 1 - i) % 7 === 0);
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    width: 'container',
    height: 160,
    data: { values },
    mark: { type: 'bar', color: statusColours.submitted, tooltip: true },
    encoding: {
      x: {
        field: 'day',
        type: 'ordinal',
        sort: days,
        title: 'day (UTC)',
        scale: { domain: days, paddingInner: 0.2 },
        axis: {
          values: labelled,
          labelAngle: 0,
          labelExpr: `datum.value === '${today}' ? 'today' : utcFormat(toDate(datum.value), '%b %d')`,
        },
      },
      y: { field: 'runs', type: 'quantitative', title: 'runs handled', axis: { tickMinStep: 1 } },
      tooltip: [
        { field: 'day', type: 'nominal', title: 'day (UTC)' },
        { field: 'runs', type: 'quantitative', title: 'runs' },
        { field: 'passes', type: 'quantitative', title: 'passes' },
      ],
    },
    config: { view: { stroke: null }, font: 'system-ui, sans-serif' },
  };
}

function watchersTable(ratv, watchers) {
  if (watchers.length === 0) return h('p', { class: 'muted' }, 'No watcher has run for this RAT version.');
  const rows = watchers.map((w) => {
    const state = watcherState(w);
    return h(
      'tr',
      {
        class: state.kind,
        dataset: {
          testid: 'watcher',
          ratv,
          filetype: w.filetype,
          stale: state.kind === 'stale',
          state: state.kind,
        },
      },
      h('th', { scope: 'row' }, w.filetype, w.block ? ` block ${w.block[0]}–${w.block[1]}` : ''),
      h('td', {}, watcherBadge(state)),
      h('td', {}, w.holder ?? '–', w.host && !String(w.holder ?? '').includes(w.host) ? ` (${w.host})` : ''),
      h('td', { title: when(w.heartbeat) }, age(w.heartbeat_age_seconds)),
      h('td', { class: 'num' }, w.last_run ?? '–'),
      h('td', { class: 'num' }, w.newest_complete_run ?? '–'),
      h('td', { class: 'num', dataset: { testid: 'backlog-count' } }, w.backlog ?? 0),
    );
  });
  return [
    table(
      [
        'Filetype',
        'State',
        'Held by',
        'Last heartbeat',
        'Last run handled',
        'Newest complete run',
        'Backlog',
      ],
      rows,
      { class: 'watchers' },
    ),
    meta.embedded
      ? h(
          'p',
          { class: 'small muted', dataset: { testid: 'embedded-note' } },
          'Embedded database: it belongs to one process at a time, so a watcher cannot run while this page has it open, ' +
            'and the page shows watchers only after they stopped. To see watchers live, serve the page from the ' +
            'CouchDB server they use.',
        )
      : null,
  ];
}

function backlogList(ratv, watchers) {
  const withBacklog = watchers.filter((w) => (w.backlog_runs ?? []).length > 0);
  if (withBacklog.length === 0) return h('p', { class: 'muted' }, 'No complete run is waiting for passes.');
  return withBacklog.map((w) => {
    const rows = w.backlog_runs.map((b) =>
      h(
        'tr',
        { dataset: { testid: 'backlog-run', run: b.run } },
        h(
          'td',
          { class: 'num' },
          h(
            'a',
            { href: link(`runs/${b.run}?ratv=${encodeURIComponent(ratv)}&filetype=${w.filetype}`) },
            b.run,
          ),
        ),
        h('td', { class: verdictClass(b.verdict) }, b.verdict),
      ),
    );
    const more =
      w.backlog > w.backlog_runs.length
        ? h('p', { class: 'small muted' }, `first ${w.backlog_runs.length} of ${w.backlog}`)
        : null;
    return h('div', {}, h('h4', {}, `${w.filetype} watcher`), table(['run', 'why it waits'], rows), more);
  });
}

export function verdictClass(verdict) {
  const word = String(verdict ?? '').split(/[:\s]/)[0];
  if (/^(held|locked|blocked|failed|skipped)$/.test(word)) return 'verdict held';
  if (/^(handled|done|created|processed)$/.test(word)) return 'verdict done';
  return 'verdict waiting';
}

function ratvSection(ratv) {
  let section = sections.get(ratv.ratv);
  if (!section) {
    const element = h('section', { class: 'ratv', dataset: { ratv: ratv.ratv } });
    section = {
      element,
      title: h('h2', {}, `RAT ${ratv.ratv}`),
      newestChart: h('div', { class: 'chart' }),
      newestTable: h('div'),
      allTable: h('div'),
      daysChart: h('div', { class: 'chart' }),
      watchers: h('div'),
      backlog: h('div'),
    };
    element.append(
      section.title,
      h(
        'div',
        { class: 'grid3' },
        h(
          'div',
          { class: 'card span2', dataset: { card: 'passes' } },
          h(
            'h3',
            {},
            'Passes by status per module',
            h('span', { class: 'muted small' }, ' newest pass of each job'),
          ),
          section.newestChart,
          section.newestTable,
          h('details', {}, h('summary', {}, 'All passes, older ones included'), section.allTable),
        ),
        h(
          'div',
          { class: 'card', dataset: { card: 'days' } },
          h('h3', {}, 'Runs handled per day', h('span', { class: 'muted small' }, ' last 4 weeks')),
          section.daysChart,
        ),
        h(
          'div',
          { class: 'card span2', dataset: { card: 'watchers' } },
          h('h3', {}, 'Watchers'),
          section.watchers,
        ),
        h(
          'div',
          { class: 'card', dataset: { card: 'backlog' } },
          h(
            'h3',
            {},
            'Backlog',
            h('span', { class: 'muted small' }, ' complete runs without passes, and why each waits'),
          ),
          section.backlog,
        ),
      ),
    );
    sections.set(ratv.ratv, section);
  }
  const stale = ratv.watchers.some((w) => watcherState(w).kind === 'stale');
  section.title.replaceChildren(
    `RAT ${ratv.ratv}`,
    stale ? h('span', { class: 'badge bad' }, 'stale watcher') : '',
  );
  section.newestTable.replaceChildren(countsTable(ratv.ratv, 'newest', ratv.passes.newest));
  section.allTable.replaceChildren(countsTable(ratv.ratv, 'all', ratv.passes.all));
  section.watchers.replaceChildren(...[watchersTable(ratv.ratv, ratv.watchers)].flat().filter(Boolean));
  section.backlog.replaceChildren(...[backlogList(ratv.ratv, ratv.watchers)].flat());
  const drawn = [];
  if (Object.keys(ratv.passes.newest).length)
    drawn.push(chart(section.newestChart, statusBarSpec(ratv.passes.newest)));
  else section.newestChart.replaceChildren();
  drawn.push(chart(section.daysChart, daysSpec(ratv.handled_per_day ?? [])));
  return { element: section.element, drawn };
}

function locksTable(locks) {
  if (locks.length === 0) return h('p', { class: 'muted' }, 'No calibration lock was ever set.');
  const rows = locks.map((l) =>
    h(
      'tr',
      {
        class: l.holds ? 'holding' : '',
        dataset: { testid: 'lock', calibration: l.calibration, holds: l.holds },
      },
      h('th', { scope: 'row' }, l.calibration),
      h(
        'td',
        {},
        l.holds
          ? h('span', { class: 'badge warn' }, `holding runs after ${l.run}`)
          : h('span', { class: 'badge' }, 'released'),
        l.set_at ? h('div', { class: 'small muted' }, `set ${when(l.set_at)}`) : null,
      ),
      h('td', { class: 'num' }, l.run ?? '–'),
      h('td', { class: 'num' }, l.validto ?? '–'),
    ),
  );
  return table(['Calibration', 'State', 'Set at run', 'Valid to run'], rows, { class: 'locks' });
}

function submissionsTable(submissions) {
  if (submissions.length === 0) return h('p', { class: 'muted' }, 'No submissions yet.');
  const rows = submissions.map((s) => {
    const share = s.runs ? Math.round((100 * s.done) / s.runs) : 100;
    return h(
      'tr',
      { dataset: { testid: 'submission', id: s.id } },
      h('td', {}, h('a', { href: link(`submissions/${encodeURIComponent(s.id)}`) }, s.id)),
      h('td', {}, s.mode),
      h('td', {}, s.ratv, ' ', s.filetype),
      h(
        'td',
        { class: 'num' },
        h('span', { class: 'progress', style: `--done:${share}%` }),
        ` ${s.done} / ${s.runs}`,
      ),
      h('td', {}, when(s.started)),
      h('td', {}, s.finished ? when(s.finished) : h('span', { class: 'badge' }, 'not finished')),
    );
  });
  return table(['Submission', 'Made by', 'RAT, filetype', 'Runs done', 'Started', 'Finished'], rows);
}

function alerts(report) {
  const items = [];
  for (const r of report.ratvs) {
    for (const w of r.watchers.filter((x) => watcherState(x).kind === 'stale')) {
      items.push(
        h(
          'div',
          { class: 'alert bad', dataset: { testid: 'stale-alert' } },
          `RAT ${r.ratv} ${w.filetype}: watcher is stale`,
          w.stale_reason ? ` (${w.stale_reason})` : '',
          w.stale_reason ? '' : ` · last heartbeat ${age(w.heartbeat_age_seconds)}`,
        ),
      );
    }
  }
  for (const l of report.locks.filter((x) => x.holds)) {
    items.push(
      h(
        'div',
        { class: 'alert warn' },
        `${l.calibration} calibration lock set at run ${l.run}: watchers process no later run until it is released`,
      ),
    );
  }
  if (report.conflicts)
    items.push(
      h(
        'div',
        { class: 'alert bad', dataset: { testid: 'conflicts' } },
        `${report.conflicts} oproc document(s) with conflicting revisions (a running watcher merges them)`,
      ),
    );
  return items;
}

let ratvLinks = '';
function nav(report) {
  const names = report.ratvs.map((r) => r.ratv);
  const key = names.join(' ');
  if (key === ratvLinks) return;
  ratvLinks = key;
  const here = (ratv) => (wanted === ratv ? 'page' : undefined);
  document
    .getElementById('ratvs')
    .replaceChildren(
      h('span', { class: 'muted' }, 'RAT version: '),
      h('a', { href: link('./'), 'aria-current': here('') }, 'all'),
      ...names.map((ratv) =>
        h('a', { href: link(`./?ratv=${encodeURIComponent(ratv)}`), 'aria-current': here(ratv) }, ratv),
      ),
    );
}

let locks;
let submissions;
async function render(report) {
  showError(null);
  stamp(report);
  nav(report);
  const shown = report.ratvs.filter((r) => !wanted || r.ratv === wanted);
  document.getElementById('alerts').replaceChildren(...alerts({ ...report, ratvs: shown }));
  locks ??= h('div');
  submissions ??= h('div');
  locks.replaceChildren(locksTable(report.locks));
  submissions.replaceChildren(submissionsTable(report.submissions));
  const parts = shown.map(ratvSection);
  const children = [
    ...parts.map((p) => p.element),
    shown.length === 0
      ? h(
          'p',
          { class: 'muted' },
          wanted ? `No passes or watchers for RAT ${wanted} yet.` : 'No passes or watchers yet.',
        )
      : null,
    h(
      'div',
      { class: 'grid3 after' },
      h(
        'section',
        { class: 'card locks', dataset: { card: 'locks' } },
        h('h3', {}, 'Calibration locks'),
        locks,
      ),
      h(
        'section',
        { class: 'card submissions span2', dataset: { card: 'submissions' } },
        h('h3', {}, 'Last submissions'),
        submissions,
        h(
          'p',
          { class: 'small' },
          h('a', { href: link('outlist'), id: 'outlist-link' }, 'Passes of an outlist…'),
        ),
      ),
    ),
  ].filter(Boolean);
  content.replaceChildren(...children);
  await Promise.all(parts.flatMap((p) => p.drawn));
  document.body.dataset.rendered = report.generated;
}

async function main() {
  try {
    meta = await getJson('api/meta');
    document.getElementById('source').textContent = `processing: ${meta.processing}`;
  } catch {
    // The status below says what is wrong, if anything is.
  }
  try {
    await render(await getJson(`api/status${wanted ? `?ratv=${encodeURIComponent(wanted)}` : ''}`));
  } catch (error) {
    showError(`Could not read the status: ${error.message}`);
    document.body.dataset.rendered = 'error';
    // A RAT version nobody knows stays unknown: nothing live to show.
    if (error.status === 404) return;
  }
  live((report) => render(report).catch((error) => showError(error.message)));
}

main();
