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
  when,
} from './common.js';

const wanted = new URLSearchParams(location.search).get('ratv') ?? '';
const content = document.getElementById('content');
const sections = new Map();

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

/** The last four weeks, day by day, with zeros where nothing was handled. */
function daysSpec(perDay) {
  const byDay = new Map(perDay.map((d) => [d.day, d]));
  const today = new Date();
  const values = [];
  for (let back = 27; back >= 0; back--) {
    const day = new Date(Date.UTC(today.getUTCFullYear(), today.getUTCMonth(), today.getUTCDate() - back))
      .toISOString()
      .slice(0, 10);
    values.push({ day, runs: byDay.get(day)?.runs ?? 0, passes: byDay.get(day)?.passes ?? 0 });
  }
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    width: 'container',
    height: 160,
    data: { values },
    mark: { type: 'bar', color: statusColours.submitted, tooltip: true },
    encoding: {
      x: {
        field: 'day',
        type: 'temporal',
        timeUnit: 'utcyearmonthdate',
        title: null,
        axis: { format: '%b %d', labelAngle: 0, tickCount: 7 },
      },
      y: { field: 'runs', type: 'quantitative', title: 'runs handled', axis: { tickMinStep: 1 } },
      tooltip: [
        { field: 'day', type: 'temporal', timeUnit: 'utcyearmonthdate', title: 'day' },
        { field: 'runs', type: 'quantitative', title: 'runs' },
        { field: 'passes', type: 'quantitative', title: 'passes' },
      ],
    },
    config: { view: { stroke: null }, font: 'system-ui, sans-serif' },
  };
}

function watchersTable(ratv, watchers) {
  if (watchers.length === 0) return h('p', { class: 'muted' }, 'No watcher has run for this RAT version.');
  const rows = watchers.map((w) =>
    h(
      'tr',
      {
        class: w.stale ? 'stale' : 'alive',
        dataset: { testid: 'watcher', ratv, filetype: w.filetype, stale: w.stale },
      },
      h('th', { scope: 'row' }, w.filetype, w.block ? ` block ${w.block[0]}–${w.block[1]}` : ''),
      h(
        'td',
        {},
        w.stale
          ? h('span', { class: 'badge bad', title: w.stale_reason ?? '' }, 'STALE')
          : w.done
            ? h('span', { class: 'badge' }, 'done')
            : h('span', { class: 'badge good' }, 'alive'),
        w.stale_reason ? h('div', { class: 'small' }, w.stale_reason) : null,
      ),
      h('td', {}, w.holder ?? '–', w.host && !String(w.holder ?? '').includes(w.host) ? ` (${w.host})` : ''),
      h('td', { title: when(w.heartbeat) }, age(w.heartbeat_age_seconds)),
      h('td', { class: 'num' }, w.last_run ?? '–'),
      h('td', { class: 'num' }, w.newest_complete_run ?? '–'),
      h('td', { class: 'num', dataset: { testid: 'backlog-count' } }, w.backlog ?? 0),
    ),
  );
  return table(
    ['filetype', 'state', 'holder', 'heartbeat', 'last run', 'newest complete run', 'backlog'],
    rows,
  );
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
        { class: 'grid' },
        h(
          'div',
          { class: 'card wide' },
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
        h('div', { class: 'card wide' }, h('h3', {}, 'Watchers'), section.watchers),
        h(
          'div',
          { class: 'card' },
          h('h3', {}, 'Runs handled per day', h('span', { class: 'muted small' }, ' last 4 weeks')),
          section.daysChart,
        ),
        h(
          'div',
          { class: 'card' },
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
  const stale = ratv.watchers.some((w) => w.stale);
  section.title.replaceChildren(
    `RAT ${ratv.ratv}`,
    stale ? h('span', { class: 'badge bad' }, 'stale watcher') : '',
  );
  section.newestTable.replaceChildren(countsTable(ratv.ratv, 'newest', ratv.passes.newest));
  section.allTable.replaceChildren(countsTable(ratv.ratv, 'all', ratv.passes.all));
  section.watchers.replaceChildren(watchersTable(ratv.ratv, ratv.watchers));
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
      ),
      h('td', { class: 'num' }, l.run ?? '–'),
      h('td', { class: 'num' }, l.validto ?? '–'),
      h('td', {}, when(l.set_at)),
    ),
  );
  return table(['calibration', 'state', 'set at run', 'validto', 'set'], rows);
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
  return table(['submission', 'mode', 'RAT, filetype', 'runs done', 'started', 'finished'], rows);
}

function alerts(report) {
  const items = [];
  for (const r of report.ratvs) {
    for (const w of r.watchers.filter((x) => x.stale)) {
      items.push(
        h(
          'div',
          { class: 'alert bad' },
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
    h('section', { class: 'card locks' }, h('h3', {}, 'Calibration locks'), locks),
    ...parts.map((p) => p.element),
    shown.length === 0
      ? h(
          'p',
          { class: 'muted' },
          wanted ? `No passes or watchers for RAT ${wanted} yet.` : 'No passes or watchers yet.',
        )
      : null,
    h(
      'section',
      { class: 'card submissions' },
      h('h3', {}, 'Last submissions'),
      submissions,
      h(
        'p',
        { class: 'small' },
        h('a', { href: link('outlist'), id: 'outlist-link' }, 'Passes of an outlist…'),
      ),
    ),
  ].filter(Boolean);
  content.replaceChildren(...children);
  await Promise.all(parts.flatMap((p) => p.drawn));
  document.body.dataset.rendered = report.generated;
}

async function main() {
  getJson('api/meta')
    .then((meta) => (document.getElementById('source').textContent = `processing: ${meta.processing}`))
    .catch(() => {});
  try {
    await render(await getJson(`api/status${wanted ? `?ratv=${encodeURIComponent(wanted)}` : ''}`));
  } catch (error) {
    showError(`Could not read the status: ${error.message}`);
  }
  live((report) => render(report).catch((error) => showError(error.message)));
}

main();
