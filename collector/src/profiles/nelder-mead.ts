/**
 * Nelder-Mead simplex minimisation (Lagarias et al. 1998 coefficients), used to fit the lifetime-value
 * models by maximum likelihood. Written here because the npm package for it (`fmin`) ships a UMD build
 * that Node's ES module loader cannot import; the method is short and needs no gradients.
 */
export interface MinimizeResult {
  x: number[];
  fx: number;
  iterations: number;
  converged: boolean;
}

export function nelderMead(
  f: (x: number[]) => number,
  x0: number[],
  options: { maxIterations?: number; tolerance?: number; step?: number } = {},
): MinimizeResult {
  const { maxIterations, tolerance, step } = { maxIterations: 2000, tolerance: 1e-9, step: 0.5, ...options };
  const n = x0.length;
  // Non-finite values (a parameter wandering off to overflow) count as infinitely bad.
  const value = (x: number[]) => {
    const v = f(x);
    return Number.isFinite(v) ? v : Number.POSITIVE_INFINITY;
  };
  let simplex = [x0, ...x0.map((_, i) => x0.map((v, j) => (i === j ? v + step : v)))].map((x) => ({
    x,
    fx: value(x),
  }));

  const combine = (a: number[], b: number[], t: number) => a.map((v, i) => v + t * (v - (b[i] ?? 0)));
  let iterations = 0;
  for (; iterations < maxIterations; iterations++) {
    simplex.sort((p, q) => p.fx - q.fx);
    const best = simplex[0];
    const worst = simplex[n];
    const secondWorst = simplex[n - 1];
    if (!best || !worst || !secondWorst) break;
    const spread = Math.abs(worst.fx - best.fx);
    if (spread <= tolerance * (Math.abs(best.fx) + tolerance)) break;

    const centroid = x0.map((_, i) => simplex.slice(0, n).reduce((s, p) => s + (p.x[i] ?? 0), 0) / n);
    const reflected = combine(centroid, worst.x, 1);
    const fr = value(reflected);
    if (fr < best.fx) {
      const expanded = combine(centroid, worst.x, 2);
      const fe = value(expanded);
      simplex[n] = fe < fr ? { x: expanded, fx: fe } : { x: reflected, fx: fr };
      continue;
    }
    if (fr < secondWorst.fx) {
      simplex[n] = { x: reflected, fx: fr };
      continue;
    }
    // Contract towards the better of the worst point and its reflection.
    const outside = fr < worst.fx;
    const contracted = combine(centroid, outside ? reflected : worst.x, -0.5);
    const fc = value(contracted);
    if (fc < (outside ? fr : worst.fx)) {
      simplex[n] = { x: contracted, fx: fc };
      continue;
    }
    // Shrink everything towards the best point.
    simplex = simplex.map((p, k) =>
      k === 0 ? p : { x: p.x.map((v, i) => (best.x[i] ?? 0) + 0.5 * (v - (best.x[i] ?? 0))), fx: 0 },
    );
    for (const p of simplex.slice(1)) p.fx = value(p.x);
  }
  simplex.sort((p, q) => p.fx - q.fx);
  const best = simplex[0] ?? { x: x0, fx: value(x0) };
  return { x: best.x, fx: best.fx, iterations, converged: iterations < maxIterations };
}
