/**
 * The dashboard's page: plain HTML, CSS and JavaScript kept as strings, bundled into the bin
 * (no build step, no external asset, no framework). The script opens `/events` and redraws
 * from each snapshot; every value from the cluster goes in as text, never as markup.
 */

/** `/`: the page's skeleton. */
export const PAGE_HTML: string = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>express-micro dashboard</title>
<link rel="stylesheet" href="/app.css">
<script src="/app.js" defer></script>
</head>
<body>
<header>
  <h1>express-micro</h1>
  <span id="peers"></span>
  <span id="connection" data-state="connecting">connecting</span>
</header>
<div id="notices"></div>
<div id="layout">
  <main id="services"><p class="empty">Waiting for the first read of the cluster…</p></main>
  <aside>
    <h2>Timeline</h2>
    <ol id="timeline"></ol>
  </aside>
</div>
</body>
</html>
`;

/** `/app.css` */
export const PAGE_STYLE: string = `:root { --fg: #1d2330; --muted: #667085; --line: #e4e7ec; --bg: #f7f8fa; --card: #fff;
  --up: #067647; --up-bg: #dcfae6; --suspect: #b54708; --suspect-bg: #fef0c7; --down: #b42318; --down-bg: #fee4e2; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.4 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg); background: var(--bg); }
header { display: flex; gap: 1rem; align-items: baseline; padding: .75rem 1.25rem; background: var(--card); border-bottom: 1px solid var(--line); }
h1 { font-size: 1.1rem; margin: 0; }
h2 { font-size: 1rem; margin: 0 0 .5rem; }
#peers { color: var(--muted); flex: 1; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
#connection { font-size: .8rem; padding: .1rem .5rem; border-radius: 1rem; background: var(--suspect-bg); color: var(--suspect); }
#connection[data-state="live"] { background: var(--up-bg); color: var(--up); }
#connection[data-state="lost"] { background: var(--down-bg); color: var(--down); }
#notices p { margin: .5rem 1.25rem 0; padding: .4rem .75rem; border-radius: .3rem; background: var(--suspect-bg); color: var(--suspect); }
#layout { display: grid; grid-template-columns: minmax(0, 1fr) 26rem; gap: 1rem; padding: 1rem 1.25rem; }
@media (max-width: 900px) { #layout { grid-template-columns: minmax(0, 1fr); } }
section, aside { background: var(--card); border: 1px solid var(--line); border-radius: .5rem; padding: .75rem 1rem; }
section + section { margin-top: 1rem; }
.stats { display: flex; flex-wrap: wrap; gap: 1.25rem; margin: 0 0 .5rem; color: var(--muted); }
.stats b { color: var(--fg); font-variant-numeric: tabular-nums; }
table { width: 100%; border-collapse: collapse; font-variant-numeric: tabular-nums; }
th, td { text-align: left; padding: .3rem .5rem; border-top: 1px solid var(--line); white-space: nowrap; }
th { color: var(--muted); font-weight: 500; border-top: 0; }
td.number, th.number { text-align: right; }
td.labels { max-width: 24rem; overflow: hidden; text-overflow: ellipsis; }
td.events { max-width: 20rem; overflow: hidden; text-overflow: ellipsis; }
.badge { display: inline-block; min-width: 4.5rem; text-align: center; font-size: .75rem; font-weight: 600; padding: .05rem .4rem; border-radius: .25rem; }
.badge[data-status="UP"], .badge[data-kind="up"], .badge[data-kind="joined"], .badge[data-kind="restored"] { background: var(--up-bg); color: var(--up); }
.badge[data-status="SUSPECT"], .badge[data-kind="suspect"], .badge[data-kind="ejected"] { background: var(--suspect-bg); color: var(--suspect); }
.badge[data-status="DOWN"], .badge[data-kind="down"], .badge[data-kind="left"] { background: var(--down-bg); color: var(--down); }
.badge[data-kind="events"] { background: var(--line); color: var(--fg); }
.badge[data-ejected="true"] { outline: 2px dashed var(--suspect); }
#timeline { list-style: none; margin: 0; padding: 0; max-height: 70vh; overflow-y: auto; }
#timeline li { display: grid; grid-template-columns: 4.5rem 5rem minmax(0, 1fr); gap: .5rem; align-items: start; padding: .35rem 0; border-top: 1px solid var(--line); }
#timeline time, .empty { color: var(--muted); }
#timeline li.empty { display: block; }
#timeline .where { overflow-wrap: anywhere; }
#timeline .where b { font-weight: 500; }
`;

/** `/app.js`: subscribes to `/events` and draws each snapshot. */
export const PAGE_SCRIPT: string = `'use strict';
(() => {
  let snapshot = null;

  /** An element with attributes and children (strings become text nodes: never markup). */
  function element(tag, attributes, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attributes || {})) if (value !== undefined && value !== null) node.setAttribute(name, String(value));
    for (const child of children) node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    return node;
  }

  function age(at) {
    if (at === null) return '—';
    const seconds = Math.max(0, (Date.now() - at) / 1000);
    return seconds < 60 ? seconds.toFixed(1) + ' s ago' : Math.round(seconds / 60) + ' min ago';
  }
  const milliseconds = (seconds) => (seconds === null ? '—' : (seconds * 1000).toFixed(seconds < 0.01 ? 2 : 1) + ' ms');
  const clock = (at) => new Date(at).toLocaleTimeString([], { hour12: false });

  function setConnection(state, label) {
    const indicator = document.getElementById('connection');
    indicator.dataset.state = state;
    indicator.textContent = label;
  }

  function stats(service) {
    const rates = service.rates;
    const stat = (label, value) => element('span', {}, label + ' ', element('b', {}, value));
    if (rates === null) {
      return element('p', { class: 'stats' }, snapshot.metricsSources === 0 ? 'no metrics (no instance answers /_discovery/metrics)' : 'measuring…');
    }
    return element('p', { class: 'stats', 'data-service-stats': service.name },
      stat('calls', rates.callsPerSecond.toFixed(1) + '/s'),
      stat('errors', rates.errorRate === null ? '—' : (rates.errorRate * 100).toFixed(1) + ' %'),
      stat('p50', milliseconds(rates.p50)),
      stat('p95', milliseconds(rates.p95)),
      stat('p99', milliseconds(rates.p99)),
      element('span', {}, 'over the last ' + snapshot.windowSeconds.toFixed(0) + ' s'));
  }

  function instanceRow(row) {
    const label = row.status + (row.ejected ? ' · ejected' : '');
    return element('tr', {},
      element('td', {}, row.url),
      element('td', { class: 'status', 'data-instance': row.url, 'data-status': row.status, 'data-ejected': row.ejected },
        element('span', { class: 'badge', 'data-status': row.status, 'data-ejected': row.ejected }, label)),
      element('td', { class: 'number', 'data-last-seen': row.lastSeen }, age(row.lastSeen)),
      element('td', { class: 'number' }, row.roundTripMs === null ? '—' : row.roundTripMs.toFixed(1) + ' ms'),
      element('td', { class: 'number' }, row.routes),
      element('td', { class: 'events', 'data-events': eventNames(row.events), title: subscriptions(row.events) }, eventNames(row.events) || '—'),
      element('td', { 'data-zone': row.zone }, row.zone === null ? '—' : row.zone),
      element('td', { class: 'labels', title: labels(row.metadata) }, labels(row.metadata)));
  }

  // The events an instance subscribes to: each name once (an older peer publishes none: []).
  function eventNames(events) {
    return [...new Set((events || []).map((item) => item.event))].join(', ');
  }
  // Whole, with groups, for the tooltip: "order.created (group email-service)".
  function subscriptions(events) {
    return (events || []).map((item) => item.event + ' (group ' + item.group + ')').join('\\n') || undefined;
  }

  // version first, then the others as given; a long set is cut by the CSS, whole in the tooltip.
  function labels(metadata) {
    const keys = Object.keys(metadata || {});
    if (keys.length === 0) return '—';
    const ordered = keys.includes('version') ? ['version', ...keys.filter((key) => key !== 'version')] : keys;
    return ordered.map((key) => key + '=' + metadata[key]).join(' ');
  }

  function serviceSection(service) {
    const head = element('tr', {}, element('th', {}, 'instance'), element('th', {}, 'status'), element('th', { class: 'number' }, 'last seen'),
      element('th', { class: 'number' }, 'round trip'), element('th', { class: 'number' }, 'routes'), element('th', {}, 'events'), element('th', {}, 'zone'), element('th', {}, 'labels'));
    const up = service.instances.filter((row) => row.status === 'UP').length;
    return element('section', { 'data-service': service.name },
      element('h2', {}, service.name + ' ', element('span', { class: 'empty' }, up + '/' + service.instances.length + ' up')),
      stats(service),
      service.instances.length === 0 ? element('p', { class: 'empty' }, 'no instance known (seen in its callers\\' metrics only)')
        : element('table', {}, element('thead', {}, head), element('tbody', {}, ...service.instances.map(instanceRow))));
  }

  function render() {
    if (snapshot === null) return;
    document.getElementById('peers').textContent = 'peers: ' + snapshot.peers.join(', ') + ' · every ' + snapshot.interval + ' ms';
    const notices = [];
    if (snapshot.problem !== null) notices.push(snapshot.problem);
    for (const peer of snapshot.unreachable) notices.push(peer.reason);
    document.getElementById('notices').replaceChildren(...notices.map((notice) => element('p', {}, notice)));
    const services = snapshot.services.map(serviceSection);
    document.getElementById('services').replaceChildren(...(services.length > 0 ? services : [element('p', { class: 'empty' }, 'no services')]));
    const entries = snapshot.timeline.map((entry) => element('li', { 'data-kind': entry.kind, 'data-instance': entry.url },
      element('time', {}, clock(entry.at)), element('span', { class: 'badge', 'data-kind': entry.kind }, entry.kind),
      element('span', { class: 'where' }, element('b', {}, entry.service), element('br'), entry.url)));
    document.getElementById('timeline').replaceChildren(...(entries.length > 0 ? entries : [element('li', { class: 'empty' }, 'no changes yet')]));
  }

  function connect() {
    const source = new EventSource('/events');
    source.onopen = () => setConnection('live', 'live');
    source.onmessage = (message) => {
      snapshot = JSON.parse(message.data);
      setConnection('live', 'live');
      render();
    };
    source.onerror = () => {
      if (source.readyState === EventSource.CLOSED) {
        // The browser gave up (the dashboard answered with an error): try again from scratch.
        setConnection('lost', 'disconnected');
        setTimeout(connect, 2000);
      } else {
        setConnection('connecting', 'reconnecting');
      }
    };
  }

  connect();
  // Ages move on between snapshots.
  setInterval(() => {
    for (const cell of document.querySelectorAll('[data-last-seen]')) cell.textContent = age(Number(cell.dataset.lastSeen));
  }, 1000);
})();
`;
