/*
 * The timeline page's drawing code, inlined into every page by
 * cli/timeline-html.ts: plain ES2017, no imports, no network. It reads the
 * trace data from the JSON script #wsim-data and draws lanes, rows, arrows and
 * pills as SVG, with hover tips, a details panel, zoom and deep links.
 */
(function () {
  'use strict';
  var data = JSON.parse(document.getElementById('wsim-data').textContent);
  var LANE_W = 168, GUTTER = 64, ROW_H = 20, HEAD_H = 46, PAD = 24;
  var COLORS = { producer: '#2563eb', hub: '#7c3aed', network: '#64748b', session: '#c2410c', client: '#0e7490', app: '#15803d' };
  var PILL = {
    st: ['#f1f5f9', '#475569', '#1e293b'], 'st end': ['#e2e8f0', '#334155', '#0f172a'],
    prd: ['#dbeafe', '#2563eb', '#1e3a8a'], app: ['#dcfce7', '#16a34a', '#14532d'], bad: ['#fee2e2', '#dc2626', '#7f1d1d'],
    warn: ['#fef3c7', '#d97706', '#78350f'], open: ['#ecfdf5', '#059669', '#064e3b'], close: ['#f1f5f9', '#64748b', '#334155'],
    dlv: ['#ffffff', '#94a3b8', '#334155'], drop: ['#fee2e2', '#dc2626', '#7f1d1d'], dup: ['#ffedd5', '#ea580c', '#7c2d12'],
    reorder: ['#fff7ed', '#fb923c', '#7c2d12'], note: ['#f8fafc', '#94a3b8', '#334155'], delay: ['#e0f2fe', '#0284c7', '#0c4a6e']
  };
  var nLanes = data.lanes.length, nRows = Math.max(1, data.rows.length);
  var W = GUTTER + nLanes * LANE_W + PAD, H = nRows * ROW_H + PAD * 2;
  var zoom = 1;

  function esc(s) { return String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;'); }
  function laneX(l) { return GUTTER + l * LANE_W + LANE_W / 2; }
  function rowY(r) { return PAD + r * ROW_H + ROW_H / 2; }
  function fit(s, px) { var n = Math.floor(px / 6.1); return s.length > n ? s.slice(0, Math.max(1, n - 1)) + '…' : s; }
  function fmt(t) { return t % 1 === 0 ? String(t) : t.toFixed(1); }

  // ---- panel
  document.getElementById('title').textContent = data.title;
  var meta = document.getElementById('meta');
  data.header.forEach(function (line) { var d = document.createElement('div'); d.textContent = line; d.title = line; meta.appendChild(d); });
  if (data.gauges.length) {
    var det = document.createElement('details'), sum = document.createElement('summary');
    sum.textContent = 'gauges (' + data.gauges.length + ')';
    det.appendChild(sum);
    data.gauges.forEach(function (g) { var d = document.createElement('div'); d.textContent = g; det.appendChild(d); });
    meta.appendChild(det);
  }
  if (data.note) { var n = document.createElement('div'); n.className = 'note'; n.textContent = data.note; meta.appendChild(n); }
  var legend = document.getElementById('legend');
  legend.innerHTML = [
    ['#0e7490', 'client → server frame'], ['#334155', 'server → client frame'], ['#ea580c', 'duplicate'],
    ['#dc2626', 'dropped ✗'], ['#7c3aed', 'hub routes to a session'], ['#0284c7', 'network delay (+N ms late)'], ['#f59e0b', 'fault'], ['#16a34a', 'app received / heal'], ['#dc2626', 'violation'], ['#94a3b8', 'hover: full text · click: details']
  ].map(function (e) { return '<span><i style="background:' + e[0] + '"></i>' + esc(e[1]) + '</span>'; }).join('');
  if (data.violation) {
    var box = document.getElementById('violation');
    box.hidden = false;
    var lines = data.violation.lines;
    box.innerHTML = (data.violation.row >= 0 ? '<button id="jump">jump to it ↓</button>' : '') +
      '<b>First violation — ' + esc(lines[0]) + '</b>' + lines.slice(1).map(function (l) { return '<div>' + esc(l) + '</div>'; }).join('') +
      (data.violation.item !== null ? '<div><a id="offending">the offending delivery, in red ↓</a></div>' : '');
  }

  // ---- lane header (sticky)
  var head = [];
  var groups = {};
  data.lanes.forEach(function (lane, i) {
    if (lane.group) { (groups[lane.group] = groups[lane.group] || []).push(i); }
  });
  Object.keys(groups).forEach(function (g, k) {
    var ls = groups[g], x0 = GUTTER + ls[0] * LANE_W + 3, x1 = GUTTER + (ls[ls.length - 1] + 1) * LANE_W - 3;
    head.push('<rect x="' + x0 + '" y="2" width="' + (x1 - x0) + '" height="14" rx="3" fill="' + (k % 2 ? '#f1f5f9' : '#e2e8f0') + '"/>');
    head.push('<text x="' + ((x0 + x1) / 2) + '" y="13" font-size="11" font-weight="600" text-anchor="middle" fill="#334155">' + esc(g) + '</text>');
  });
  data.lanes.forEach(function (lane, i) {
    var x = GUTTER + i * LANE_W + 4, c = COLORS[lane.kind];
    head.push('<rect x="' + x + '" y="19" width="' + (LANE_W - 8) + '" height="24" rx="5" fill="#fff" stroke="' + c + '" stroke-width="1.5"/>');
    head.push('<text x="' + (x + (LANE_W - 8) / 2) + '" y="35" font-size="12" font-weight="600" text-anchor="middle" fill="' + c + '"><title>' + esc(lane.label) + '</title>' + esc(fit(lane.label, LANE_W - 16)) + '</text>');
  });
  head.push('<text x="6" y="35" font-size="11" fill="#64748b">t (ms)</text>');

  // ---- body
  var out = [];
  out.push('<defs>' +
    '<marker id="ah" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="context-stroke"/></marker>' +
    '<marker id="ahc" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#0e7490"/></marker>' +
    '<marker id="ahs" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#334155"/></marker>' +
    '<marker id="ahd" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#ea580c"/></marker>' +
    '<marker id="ahr" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="6" markerHeight="6" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#7c3aed"/></marker>' +
    '</defs>');
  // alternate endpoint groups get a faint background, then lifelines
  Object.keys(groups).forEach(function (g, k) {
    if (k % 2) return;
    var ls = groups[g];
    out.push('<rect x="' + (GUTTER + ls[0] * LANE_W) + '" y="0" width="' + (ls.length * LANE_W) + '" height="' + H + '" fill="#f8fafc"/>');
  });
  // time gutter: a label whenever time moves, with a faint rule every so often
  var lastT = null, lastLabelRow = -10;
  data.rows.forEach(function (t, r) {
    if (t !== lastT && r - lastLabelRow >= 1) {
      out.push('<text x="' + (GUTTER - 8) + '" y="' + (rowY(r) + 4) + '" font-size="10.5" text-anchor="end" fill="#64748b">' + fmt(t) + '</text>');
      out.push('<line x1="' + (GUTTER - 4) + '" x2="' + (W - PAD) + '" y1="' + (rowY(r) - ROW_H / 2) + '" y2="' + (rowY(r) - ROW_H / 2) + '" stroke="#f1f5f9"/>');
      lastLabelRow = r;
    }
    lastT = t;
  });
  data.lanes.forEach(function (lane, i) {
    out.push('<line x1="' + laneX(i) + '" x2="' + laneX(i) + '" y1="0" y2="' + H + '" stroke="' + COLORS[lane.kind] + '" stroke-opacity="0.35" stroke-width="1.5" stroke-dasharray="5 4"/>');
  });
  // bands: faults, heal, end
  data.bands.forEach(function (b) {
    var y = rowY(b.row) - ROW_H / 2;
    var fill = b.cls === 'fault' ? '#fde68a' : b.cls === 'heal' ? '#bbf7d0' : '#e2e8f0';
    out.push('<rect x="' + GUTTER + '" y="' + y + '" width="' + (W - GUTTER - PAD) + '" height="' + ROW_H + '" fill="' + fill + '" fill-opacity="0.75"><title>' + esc(b.label) + '</title></rect>');
    out.push('<text x="' + (GUTTER + 6) + '" y="' + (y + 14) + '" font-size="11" font-weight="600" fill="' + (b.cls === 'fault' ? '#92400e' : b.cls === 'heal' ? '#166534' : '#334155') + '">' + esc(b.label) + '</text>');
  });
  // the first violation
  if (data.violation && data.violation.row >= 0) {
    var vy = rowY(data.violation.row) - ROW_H / 2;
    out.push('<rect id="vband" x="' + GUTTER + '" y="' + (vy - 2) + '" width="' + (W - GUTTER - PAD) + '" height="' + (ROW_H + 4) + '" fill="#fecaca" stroke="#dc2626" stroke-width="2"><title>' + esc(data.violation.lines.join('\n')) + '</title></rect>');
    out.push('<text x="' + (GUTTER + 6) + '" y="' + (vy + 14) + '" font-size="12" font-weight="700" fill="#b91c1c">⚠ VIOLATION ' + esc(data.violation.lines[0]) + '</text>');
  }
  // arrows
  data.arrows.forEach(function (a, ai) {
    var x0 = laneX(a.l0), y0 = rowY(a.r0), x1 = laneX(a.l1), y1 = rowY(a.r1);
    if (a.route) {
      // the hub routing an event to a session: thin, purple, from its production to the session's send
      out.push('<g class="ar" data-a="' + ai + '"><line x1="' + x0 + '" y1="' + y0 + '" x2="' + (x1 - 5) + '" y2="' + y1 + '" stroke="#7c3aed" stroke-opacity="0.7" stroke-width="1.1" stroke-dasharray="4 2" marker-end="url(#ahr)"/></g>');
      return;
    }
    var color = a.dup ? '#ea580c' : a.fate === 1 || a.fate === 2 ? '#dc2626' : a.c2s ? '#0e7490' : '#334155';
    var marker = a.dup ? 'ahd' : a.c2s ? 'ahc' : 'ahs';
    var dash = a.fate === 3 ? ' stroke-dasharray="3 3"' : a.dup ? ' stroke-dasharray="6 2"' : '';
    if (a.fate === 1) { x1 = (x0 + x1) / 2; y1 = y0 + 6; }
    var shorten = (a.fate === 0 && x1 !== x0) ? (x1 > x0 ? -4 : 4) : 0;
    out.push('<g class="ar" data-a="' + ai + '">');
    out.push('<line x1="' + x0 + '" y1="' + y0 + '" x2="' + (x1 + shorten) + '" y2="' + y1 + '" stroke="' + color + '" stroke-width="' + (a.label.indexOf('event') === 0 || a.label.indexOf('batch') === 0 ? 1.8 : 1.2) + '"' + dash + (a.fate === 0 ? ' marker-end="url(#' + marker + ')"' : '') + '/>');
    if (a.fate === 1 || a.fate === 2) {
      out.push('<text x="' + x1 + '" y="' + (y1 + 5) + '" font-size="14" font-weight="700" text-anchor="middle" fill="#dc2626">✗</text>');
    }
    if (a.label) {
      var lx = x0 + (a.l1 > a.l0 ? 8 : -8), anchor = a.l1 > a.l0 ? 'start' : 'end';
      out.push('<text x="' + lx + '" y="' + (y0 - 3) + '" font-size="10" text-anchor="' + anchor + '" fill="' + color + '" stroke="#fff" stroke-width="3" paint-order="stroke">' + esc(fit(a.label, Math.abs(laneX(a.l1) - laneX(a.l0)) - 14)) + '</text>');
    }
    out.push('</g>');
  });
  // items: pills on the lifelines
  data.items.forEach(function (it, ii) {
    var r = it[0], l = it[1], cls = it[2], label = fit(it[3], LANE_W - 14);
    var p = PILL[cls] || PILL.note;
    var w = Math.min(LANE_W - 8, label.length * 6.1 + 12), x = laneX(l) - w / 2, y = rowY(r) - 8;
    out.push('<g class="it" data-i="' + ii + '"><rect x="' + x + '" y="' + y + '" width="' + w + '" height="16" rx="8" fill="' + p[0] + '" stroke="' + p[1] + '"/>' +
      '<text x="' + laneX(l) + '" y="' + (y + 12) + '" font-size="10.5" text-anchor="middle" fill="' + p[2] + '">' + esc(label) + '</text></g>');
  });

  var lanesEl = document.getElementById('lanes'), chartEl = document.getElementById('chart'), scroller = document.getElementById('scroll');
  lanesEl.innerHTML = '<svg id="head" viewBox="0 0 ' + W + ' ' + HEAD_H + '" width="' + W + '" height="' + HEAD_H + '">' + head.join('') + '</svg>';
  chartEl.innerHTML = '<svg id="svg" viewBox="0 0 ' + W + ' ' + H + '" width="' + W + '" height="' + H + '">' + out.join('') + '</svg>';
  var headSvg = document.getElementById('head'), svg = document.getElementById('svg');

  // ---- every pill and arrow: its whole text on hover, its details in the side panel on click
  var tipEl = document.getElementById('tip'), side = document.getElementById('side'), sideBody = document.getElementById('sidebody');
  function target(e) {
    var g = e.target && e.target.closest ? e.target.closest('[data-i],[data-a]') : null;
    if (!g) return null;
    if (g.hasAttribute('data-i')) { var it = data.items[+g.getAttribute('data-i')]; return { el: g, row: it[0], lane: it[1], bad: it[2] === 'bad' || it[2] === 'drop', title: it[3], text: it[4], item: +g.getAttribute('data-i') }; }
    var a = data.arrows[+g.getAttribute('data-a')];
    return { el: g, row: a.r0, lane: a.l0, bad: a.fate === 1 || a.fate === 2, title: a.route ? 'routing' : a.label, text: a.tip, item: null };
  }
  function showTip(t, x, y) {
    tipEl.innerHTML = '<b>' + esc(data.lanes[t.lane].label) + ' · ' + fmt(data.rows[t.row]) + ' ms</b>\n' + esc(t.title) + (t.text && t.text !== t.title ? '\n' + esc(t.text) : '');
    tipEl.hidden = false;
    var w = tipEl.offsetWidth, h = tipEl.offsetHeight;
    tipEl.style.left = Math.max(4, Math.min(window.innerWidth - w - 8, x + 14)) + 'px';
    tipEl.style.top = Math.max(4, y + h + 24 > window.innerHeight ? y - h - 10 : y + 16) + 'px';
  }
  var selected = null;
  function select(t) {
    if (selected) selected.classList.remove('sel');
    selected = t.el; selected.classList.add('sel');
    var isOffending = data.violation && t.item !== null && t.item === data.violation.item;
    var rows = [['time', fmt(data.rows[t.row]) + ' ms (simulated)'], ['lane', data.lanes[t.lane].label], ['what', t.text || t.title]];
    if (isOffending) rows.push(['violation', data.violation.lines.join('\n')]);
    side.className = t.bad || isOffending ? 'bad' : '';
    sideBody.innerHTML = '<h2>' + esc(t.title) + '</h2><dl>' + rows.map(function (r) { return '<dt>' + esc(r[0]) + '</dt><dd>' + esc(r[1]) + '</dd>'; }).join('') + '</dl>';
    side.hidden = false;
  }
  function selectItem(i) {
    var g = svg.querySelector('[data-i="' + i + '"]');
    if (!g) return;
    select(target({ target: g }));
    // into view: its row, and its lane left of the side panel
    scroller.scrollTop = Math.max(0, (rowY(data.items[i][0]) - 160) * zoom);
    scroller.scrollLeft = Math.max(0, laneX(data.items[i][1]) * zoom - Math.max(120, (scroller.clientWidth - side.offsetWidth) / 2));
  }
  svg.addEventListener('mousemove', function (e) { var t = target(e); if (t) showTip(t, e.clientX, e.clientY); else tipEl.hidden = true; });
  svg.addEventListener('mouseleave', function () { tipEl.hidden = true; });
  svg.addEventListener('click', function (e) { var t = target(e); if (t) select(t); });
  document.getElementById('sideclose').onclick = function () { side.hidden = true; if (selected) selected.classList.remove('sel'); selected = null; };
  var offendingLink = document.getElementById('offending');
  if (offendingLink) offendingLink.onclick = function () { selectItem(data.violation.item); };

  // ---- zoom: buttons and ctrl + wheel, keeping the point under the cursor in place
  function setZoom(z, cx, cy) {
    z = Math.max(0.1, Math.min(4, z));
    var rect = scroller.getBoundingClientRect();
    cx = cx === undefined ? rect.width / 2 : cx; cy = cy === undefined ? rect.height / 2 : cy;
    var ux = (scroller.scrollLeft + cx) / zoom, uy = (scroller.scrollTop + cy) / zoom;
    zoom = z;
    svg.setAttribute('width', W * z); svg.setAttribute('height', H * z);
    headSvg.setAttribute('width', W * z); headSvg.setAttribute('height', HEAD_H * Math.max(z, 0.6));
    scroller.scrollLeft = ux * z - cx; scroller.scrollTop = uy * z - cy;
    document.getElementById('zlevel').textContent = Math.round(z * 100) + '%';
  }
  document.getElementById('zin').onclick = function () { setZoom(zoom * 1.25); };
  document.getElementById('zout').onclick = function () { setZoom(zoom / 1.25); };
  document.getElementById('z1').onclick = function () { setZoom(1); };
  document.getElementById('zfit').onclick = function () { setZoom(scroller.clientWidth / W, 0, 0); };
  scroller.addEventListener('wheel', function (e) {
    if (!e.ctrlKey) return;
    e.preventDefault();
    var rect = scroller.getBoundingClientRect();
    setZoom(zoom * Math.exp(-e.deltaY * 0.002), e.clientX - rect.left, e.clientY - rect.top);
  }, { passive: false });
  var jump = document.getElementById('jump');
  function toViolation() { scroller.scrollTop = Math.max(0, (rowY(data.violation.row) - 160) * zoom); }
  if (jump) jump.onclick = toViolation;
  if (scroller.clientWidth < W) setZoom(Math.max(0.8, scroller.clientWidth / W), 0, 0);
  if (jump && location.hash === '#violation') toViolation();
  // deep links: #item=N opens item N's details (#violation-item: the offending delivery's)
  var deep = /^#item=(\d+)$/.exec(location.hash);
  if (deep) selectItem(+deep[1]);
  if (location.hash === '#violation-item' && data.violation && data.violation.item !== null) selectItem(data.violation.item);
  document.body.setAttribute('data-drawn', String(data.items.length + data.arrows.length));
})();
