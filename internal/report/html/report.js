// exhunt report: filters and sorts the evidence table. Evidence is only read
// from attributes and text and written back with textContent: nothing here
// parses a string as HTML, and the page's CSP (Trusted Types) would refuse it.
(() => {
  'use strict';
  const $ = (sel) => document.querySelector(sel);
  const $$ = (sel) => Array.from(document.querySelectorAll(sel));

  const table = $('#evidence-table');
  const tbody = table ? table.tBodies[0] : null;
  const rows = tbody ? Array.from(tbody.rows) : [];
  const haystack = new Map(rows.map((r) => [r, r.textContent.toLowerCase()]));
  const text = $('#f-text');
  const stage = $('#f-stage');
  const server = $('#f-server');
  const shown = $('#ev-shown');

  const has = (select, value) => Array.from(select.options).some((o) => o.value === value);

  function apply() {
    const q = text.value.trim().toLowerCase();
    const st = stage.value;
    const sv = server.value;
    let n = 0;
    for (const r of rows) {
      const ok = (!st || r.dataset.stage === st) && (!sv || r.dataset.server === sv) && (!q || haystack.get(r).includes(q));
      r.hidden = !ok;
      if (ok) n++;
    }
    shown.dataset.count = String(n);
    shown.textContent = n.toLocaleString('en-US') + ' of ' + rows.length.toLocaleString('en-US') + ' findings';
    for (const el of $$('[data-filter-stage]')) {
      el.setAttribute('aria-pressed', String(st !== '' && el.dataset.filterStage === st));
    }
    for (const el of $$('svg [data-filter-server]')) {
      const on = sv !== '' && el.dataset.filterServer === sv;
      el.setAttribute('aria-pressed', String(on));
      el.classList.toggle('dim', sv !== '' && !on);
    }
    for (const m of $$('svg .m')) {
      m.classList.toggle('dim', st !== '' && m.dataset.stage !== st);
    }
    const p = new URLSearchParams();
    if (st) p.set('stage', st);
    if (sv) p.set('server', sv);
    if (q) p.set('q', q);
    const hash = p.toString();
    if (hash !== location.hash.slice(1)) {
      try {
        history.replaceState(null, '', hash ? '#' + hash : location.pathname + location.search);
      } catch (e) {
        // Some browsers refuse replaceState on file: URLs; the filter still works.
      }
    }
  }

  // Clicking the active filter again clears it.
  function toggle(select, value) {
    if (!has(select, value)) return;
    select.value = select.value === value ? '' : value;
    apply();
  }

  for (const el of $$('[data-filter-stage]')) {
    el.addEventListener('click', () => toggle(stage, el.dataset.filterStage));
  }
  for (const el of $$('[data-filter-server]')) {
    const go = () => {
      toggle(server, el.dataset.filterServer);
      if (el.tagName === 'BUTTON' && table) table.scrollIntoView({ block: 'start' });
    };
    el.addEventListener('click', go);
    el.addEventListener('keydown', (e) => {
      if (el.tagName !== 'BUTTON' && (e.key === 'Enter' || e.key === ' ')) {
        e.preventDefault();
        go();
      }
    });
  }
  text.addEventListener('input', apply);
  stage.addEventListener('change', apply);
  server.addEventListener('change', apply);
  $('#f-reset').addEventListener('click', () => {
    text.value = stage.value = server.value = '';
    apply();
  });

  // Sorting: cells carry data-key when their text does not sort right.
  const collator = new Intl.Collator(undefined, { numeric: true, sensitivity: 'base' });
  if (table) {
    for (const b of table.querySelectorAll('th button[data-sort]')) {
      b.addEventListener('click', () => {
        const th = b.closest('th');
        const col = th.cellIndex;
        const dir = th.getAttribute('aria-sort') === 'ascending' ? -1 : 1;
        for (const h of table.tHead.rows[0].cells) h.removeAttribute('aria-sort');
        th.setAttribute('aria-sort', dir > 0 ? 'ascending' : 'descending');
        const kind = b.dataset.sort;
        const key = (r) => {
          const c = r.cells[col];
          return kind === 'text' ? c.textContent : c.dataset.key || '';
        };
        const cmp = kind === 'num' ? (a, z) => Number(a) - Number(z) : (a, z) => (kind === 'key' ? (a < z ? -1 : a > z ? 1 : 0) : collator.compare(a, z));
        const keyed = rows.map((r, i) => [key(r), i, r]);
        keyed.sort((a, z) => cmp(a[0], z[0]) * dir || a[1] - z[1]);
        const frag = document.createDocumentFragment();
        rows.length = 0;
        for (const k of keyed) {
          rows.push(k[2]);
          frag.appendChild(k[2]);
        }
        tbody.appendChild(frag);
      });
    }
  }

  // A filtered view can be shared as a link: #stage=…&server=…&q=…
  const p = new URLSearchParams(location.hash.slice(1));
  if (has(stage, p.get('stage') || '')) stage.value = p.get('stage') || '';
  if (has(server, p.get('server') || '')) server.value = p.get('server') || '';
  text.value = p.get('q') || '';
  apply();
  document.body.dataset.ready = '1';
})();
