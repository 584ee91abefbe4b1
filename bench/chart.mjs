// A small SVG bar chart of a benchmark run: requests per second of the service and the
// baseline per scenario, with the ratio, p99 latencies and peak memory as labels.
const esc = (s) => String(s).replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]);

export function renderChart(results) {
  const s = results.scenarios;
  const small = Number(results.flags.items);
  const entries = [
    ['me', s.me],
    [`items (${small})`, s.items],
    ['createItem', s.createItem],
    ['login', s.login],
    ...Object.entries(s.growth ?? {})
      .filter(([n]) => Number(n) !== small)
      .map(([n, v]) => [`items (${n})`, v]),
  ].filter(([, v]) => v);
  const max = Math.max(...entries.flatMap(([, v]) => [v.service.rps, v.baseline.rps, v.floor?.rps ?? 0]), 1);
  // A row with the stack floor (Express + Apollo around the baseline's work) has a third bar.
  const rowH = (v) => (v.floor ? 76 : 56);
  const left = 130;
  const width = 760;
  const barMax = width - left - 190;
  const height = 70 + entries.reduce((h, [, v]) => h + rowH(v), 0) + 40;
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="#fff"/>`,
    `<text x="16" y="24" font-size="15" font-weight="bold">Service vs same-work baseline (requests/s, median of ${esc(results.flags.runs)} runs)</text>`,
    `<text x="16" y="44" fill="#555">${esc(results.date.slice(0, 10))} · ${results.cores} cores · ${esc(results.engine)} · ${esc(results.node ?? '')} · ${esc(results.flags.connections)} connections</text>`,
  ];
  let y = 64;
  for (const [name, v] of entries) {
    const w1 = (v.service.rps / max) * barMax;
    const w2 = (v.baseline.rps / max) * barMax;
    const ratio = v.baseline.rps ? (v.service.rps / v.baseline.rps).toFixed(2) : '–';
    parts.push(
      `<text x="16" y="${y + 20}">${esc(name)}</text>`,
      `<rect x="${left}" y="${y + 4}" width="${w1.toFixed(1)}" height="16" fill="#3b6fd6"/>`,
      `<text x="${left + w1 + 6}" y="${y + 17}">${v.service.rps.toFixed(1)} (p99 ${v.service.p99} ms, ${v.service.peakRssMb} MB)</text>`,
      `<rect x="${left}" y="${y + 24}" width="${w2.toFixed(1)}" height="16" fill="#a0a7b4"/>`,
      `<text x="${left + w2 + 6}" y="${y + 37}">${v.baseline.rps.toFixed(1)} (p99 ${v.baseline.p99} ms) · ratio ${ratio}</text>`,
    );
    if (v.floor) {
      const w3 = (v.floor.rps / max) * barMax;
      const floorRatio = v.baseline.rps ? (v.floor.rps / v.baseline.rps).toFixed(2) : '–';
      parts.push(
        `<rect x="${left}" y="${y + 44}" width="${w3.toFixed(1)}" height="16" fill="#e0a030"/>`,
        `<text x="${left + w3 + 6}" y="${y + 57}">${v.floor.rps.toFixed(1)} (p99 ${v.floor.p99} ms) · stack floor, ratio ${floorRatio}</text>`,
      );
    }
    y += rowH(v);
  }
  const ly = height - 24;
  parts.push(
    `<rect x="16" y="${ly - 10}" width="12" height="12" fill="#3b6fd6"/><text x="34" y="${ly}">service</text>`,
    `<rect x="100" y="${ly - 10}" width="12" height="12" fill="#a0a7b4"/><text x="118" y="${ly}">baseline (node:http + graphql-js + mongodb driver)</text>`,
    `<rect x="430" y="${ly - 10}" width="12" height="12" fill="#e0a030"/><text x="448" y="${ly}">stack floor (baseline + Express + Apollo)</text>`,
    '</svg>',
  );
  return `${parts.join('\n')}\n`;
}
