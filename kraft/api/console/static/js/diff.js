// A line diff of two texts: the longest common subsequence of their lines, after the
// common head and tail are set aside (schema versions differ in a few lines). Past
// MAX_CELLS the middle is shown as all removed then all added, rather than stall the page.
const MAX_CELLS = 4_000_000;

// [{op: " " | "-" | "+", text}] turning the lines of `a` into those of `b`.
export function lineDiff(a, b) {
  const x = a.split("\n"), y = b.split("\n");
  let head = 0;
  while (head < x.length && head < y.length && x[head] === y[head]) head++;
  let tail = 0;
  while (tail < x.length - head && tail < y.length - head && x[x.length - 1 - tail] === y[y.length - 1 - tail]) tail++;
  const mx = x.slice(head, x.length - tail), my = y.slice(head, y.length - tail);
  const same = (lines) => lines.map((text) => ({ op: " ", text }));
  return [...same(x.slice(0, head)), ...middle(mx, my), ...same(x.slice(x.length - tail))];
}

function middle(x, y) {
  const n = x.length, m = y.length;
  if (n * m > MAX_CELLS || !n || !m) {
    return [...x.map((text) => ({ op: "-", text })), ...y.map((text) => ({ op: "+", text }))];
  }
  // lcs[i][j]: the common subsequence's length of x[i..] and y[j..], one flat array
  const w = m + 1;
  const lcs = new Uint32Array((n + 1) * w);
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) {
      lcs[i * w + j] = x[i] === y[j] ? lcs[(i + 1) * w + j + 1] + 1 : Math.max(lcs[(i + 1) * w + j], lcs[i * w + j + 1]);
    }
  }
  const out = [];
  let i = 0, j = 0;
  while (i < n && j < m) {
    if (x[i] === y[j]) { out.push({ op: " ", text: x[i] }); i++; j++; }
    else if (lcs[(i + 1) * w + j] >= lcs[i * w + j + 1]) out.push({ op: "-", text: x[i++] });
    else out.push({ op: "+", text: y[j++] });
  }
  while (i < n) out.push({ op: "-", text: x[i++] });
  while (j < m) out.push({ op: "+", text: y[j++] });
  return out;
}
