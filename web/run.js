// The run page: what GET api/runs/RUN returns (= `oproc why --json`), again whenever the status changes.
// Without ?ratv=&filetype= it lists the RAT versions and filetypes that have a watcher or a pass of
// the run (api/runs/RUN/versions), and picks none of them.
import {
  age,
  getJson,
  h,
  link,
  live,
  showError,
  stamp,
  statusChip,
  table,
  watcherBadge,
  watcherState,
  when,
} from './common.js';

const run = location.pathname.split('/').filter(Boolean).pop();
const query = new URLSearchParams(location.search);
const content = document.getElementById('content');

/** The verdict's colour, by its kind: done, waiting (nothing wrong) or held (someone may need to act). */
const verdictClasses = {
  handled: 'verdict done',
  'would-create': 'verdict waiting',
  waits: 'verdict waiting',
  held: 'verdict held',
  'would-skip': 'verdict held',
  'not-in-dataflow': 'verdict held',
};

/** What the plan card says when the next watch cycle creates nothing, by the verdict's kind. */
const nothingPlanned = {
  handled: 'Nothing: the run is already handled (see the verdict above).',
  held: 'Nothing until what holds the run is lifted (see the verdict above).',
  waits: 'Nothing yet: the run waits (see the verdict above).',
  'not-in-dataflow': 'Nothing: no watcher takes a run the data-flow database does not name.',
};

/** Words a shifter uses, for the why report's fields. */
const labels = {
  dataflow: 'Data-flow',
  known: 'Known to data-flow',
  files: 'Subruns with files',
  ended: 'Run ended',
  latest_run: 'Latest run in data-flow',
  complete: 'Complete',
  complete_reason: 'Because',
  run_type: 'Run type',
  word: 'Run type word',
  names: 'Run type bits',
  modules: 'Modules',
  selected: 'Selected for its run type',
  tables: 'RATDB tables',
  module: 'Module',
  required: 'Needed',
  present: 'Present',
  missing: 'Missing',
  prerequisites: 'Prerequisites',
  links: 'Needs',
  pass: 'Pass',
  how: 'How',
  problem: 'Problem',
  locks: 'Calibration locks',
  watchers: 'Watchers',
  passes: 'Passes',
  plan: 'Plan: the next watch cycle',
  create: 'Would create',
  skips: 'Would skip',
  sets_locks: 'Would set locks',
  ratv: 'RAT version',
  filetype: 'Filetype',
  status: 'Status',
  subjobs: 'Subjobs',
  subjobs_completed: 'Subjobs completed',
  ratdb_tag: 'RATDB tag',
  submission: 'Submission',
  created: 'Created',
  kind: 'Kind',
  reason: 'Reason',
  run: 'Run',
};

function title(key) {
  return labels[key] ?? key.replace(/_/g, ' ').replace(/^\w/, (c) => c.toUpperCase());
}

function scalar(key, value) {
  if (key === 'status' && typeof value === 'string') return statusChip(value);
  if (key === 'submission' && typeof value === 'string' && value !== 'why')
    return h('a', { href: link(`submissions/${encodeURIComponent(value)}`) }, value);
  if (typeof value === 'boolean') return value ? 'yes' : 'no';
  if (typeof value === 'string' && /^\d{4}-\d\d-\d\dT/.test(value)) return when(value);
  return value ?? '–';
}

/** Any part of the why report: arrays of objects as tables, objects as lists, the rest as text. */
function render(key, value) {
  if (Array.isArray(value)) {
    if (value.length === 0) return h('span', { class: 'muted' }, 'none');
    if (value.every((v) => v && typeof v === 'object' && !Array.isArray(v))) {
      const columns = [...new Set(value.flatMap((v) => Object.keys(v)))].filter(
        (c) => !(key === 'skips' && c === 'run'),
      );
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

function watchersTable(watchers) {
  if (watchers.length === 0)
    return h('p', { class: 'muted' }, 'No watcher of this RAT version and filetype.');
  const rows = watchers.map((w) => {
    const state = watcherState(w);
    return h(
      'tr',
      { class: state.kind, dataset: { testid: 'watcher', state: state.kind } },
      h('th', { scope: 'row' }, w.filetype, w.block ? ` block ${w.block[0]}–${w.block[1]}` : ''),
      h('td', {}, watcherBadge(state)),
      h('td', { class: 'num' }, w.last_run ?? '–'),
      h('td', {}, w.in_flight ?? '–'),
      h('td', {}, w.holder ?? '–'),
      h('td', { title: when(w.heartbeat) }, age(w.heartbeat_age_seconds)),
      h('td', {}, when(w.expires)),
    );
  });
  return table(
    [
      'Watcher',
      'State',
      'Last run handled',
      'Unfinished submission',
      'Held by',
      'Last heartbeat',
      'Lease until',
    ],
    rows,
    { class: 'watchers' },
  );
}

function locksTable(locks) {
  if (locks.length === 0) return h('p', { class: 'muted' }, 'No calibration lock was ever set.');
  const rows = locks.map((l) =>
    h(
      'tr',
      { class: l.holds ? 'holding' : '', dataset: { testid: 'lock', calibration: l.calibration } },
      h('th', { scope: 'row' }, l.calibration),
      h('td', { class: 'num' }, l.run),
      h('td', {}, l.locked ? 'yes' : 'no'),
      h('td', { class: 'num' }, l.validto ?? '–'),
      h('td', {}, when(l.set_at)),
      h(
        'td',
        {},
        l.holds ? h('span', { class: 'badge warn' }, 'holds it') : h('span', { class: 'badge' }, 'no'),
      ),
    ),
  );
  return table(['Calibration', 'Set at run', 'Locked', 'Valid to run', 'Set', 'Holds this run'], rows, {
    class: 'locks',
  });
}

/** The plan, only where the verdict says the next cycle would act on the run; else one line agreeing with it. */
function planCard(why) {
  if (why.verdict_kind === 'would-create' || why.verdict_kind === 'would-skip')
    return render('plan', why.plan);
  return h(
    'p',
    { dataset: { testid: 'plan' } },
    nothingPlanned[why.verdict_kind] ?? 'Nothing (see the verdict above).',
  );
}

function section(key, body, wide = false) {
  return h(
    'section',
    { class: wide ? 'card wide' : 'card', dataset: { section: key } },
    h('h3', {}, title(key)),
    body,
  );
}

/** /runs/RUN with no RAT version chosen: the ones with a watcher or a pass of the run, as links. */
async function chooseVersion(meta) {
  document.title = `oproc · run ${run}`;
  const view = await getJson(`api/runs/${run}/versions`);
  const href = (ratv, filetype) =>
    link(`runs/${run}?ratv=${encodeURIComponent(ratv)}&filetype=${encodeURIComponent(filetype)}`);
  const rows = view.versions.map((v) =>
    h(
      'tr',
      { dataset: { testid: 'version', ratv: v.ratv, filetype: v.filetype } },
      h(
        'th',
        { scope: 'row' },
        v.processing_information
          ? h('a', { href: href(v.ratv, v.filetype) }, `RAT ${v.ratv} ${v.filetype}`)
          : `RAT ${v.ratv} ${v.filetype}`,
      ),
      h('td', { class: 'num' }, v.passes),
      h(
        'td',
        {},
        v.watchers.length
          ? v.watchers.map((w) => `${w.state} (last run ${w.last_run ?? '–'})`).join(', ')
          : h('span', { class: 'muted' }, 'none'),
      ),
      h(
        'td',
        { class: 'small muted' },
        v.processing_information ? '' : 'no processing information here: why cannot be asked',
      ),
    ),
  );
  const others = h(
    'nav',
    { class: 'choose' },
    h('span', { class: 'muted' }, 'Ask as another: '),
    view.ratvs.flatMap((r) =>
      meta.filetypes.map((f) => h('a', { href: href(r, f), dataset: { testid: 'ask-as' } }, `${r} ${f}`)),
    ),
  );
  content.replaceChildren(
    h('h2', {}, `Run ${run}`),
    view.versions.length
      ? h(
          'section',
          { class: 'card' },
          h('h3', {}, 'Which RAT version and filetype?'),
          h(
            'p',
            { class: 'small muted' },
            'These have a watcher or a pass of the run. Choose one to see what oproc why says of the run.',
          ),
          table(['RAT version and filetype', 'Passes of this run', 'Watchers', ''], rows, {
            class: 'versions',
          }),
        )
      : h(
          'p',
          { class: 'verdict waiting', dataset: { testid: 'no-versions' } },
          `No watcher or pass of any RAT version covers run ${run}.`,
        ),
    others,
  );
  stamp({});
  document.body.dataset.rendered = new Date().toISOString();
}

async function load() {
  const meta = await getJson('api/meta');
  const ratv = query.get('ratv');
  const filetype = query.get('filetype');
  if (!ratv || !filetype) return chooseVersion(meta);
  document.title = `oproc · run ${run}`;
  const choose = h(
    'nav',
    { class: 'choose' },
    h('span', { class: 'muted' }, 'as seen by: '),
    h('a', { href: link(`runs/${run}`) }, 'which?'),
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
  let missing = false;
  const refresh = async () => {
    try {
      const why = await getJson(
        `api/runs/${run}?ratv=${encodeURIComponent(ratv)}&filetype=${encodeURIComponent(filetype)}`,
      );
      showError(null);
      const header = ['verdict', 'verdict_kind', 'run', 'ratv', 'filetype', 'ratdb_tag'];
      const special = { watchers: true, locks: true, passes: true, plan: true };
      const sections = Object.entries(why).filter(([k]) => !header.includes(k) && !special[k]);
      content.replaceChildren(
        h(
          'h2',
          {},
          `Run ${run}`,
          h(
            'span',
            { class: 'muted' },
            ` RAT ${why.ratv} ${why.filetype}`,
            why.ratdb_tag ? ` · RATDB tag ${why.ratdb_tag}` : '',
          ),
        ),
        choose,
        h(
          'p',
          { class: verdictClasses[why.verdict_kind] ?? 'verdict waiting', dataset: { testid: 'verdict' } },
          why.verdict,
        ),
        h(
          'div',
          { class: 'grid' },
          sections.map(([k, v]) => section(k, render(k, v))),
          section('locks', locksTable(why.locks)),
          section('plan', planCard(why)),
          section('watchers', watchersTable(why.watchers), true),
          section('passes', render('passes', why.passes), true),
        ),
      );
      stamp({});
      document.body.dataset.rendered = new Date().toISOString();
    } catch (error) {
      content.replaceChildren(h('h2', {}, `Run ${run}`), choose);
      showError(error.message);
      missing = error.status === 404;
      document.body.dataset.rendered = 'error';
    }
  };
  await refresh();
  // An unknown RAT version or run does not appear by itself: nothing live to follow.
  if (!missing) live(() => refresh());
}

load().catch((error) => {
  showError(error.message);
  document.body.dataset.rendered = 'error';
});
