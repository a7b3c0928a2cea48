import { describe, expect, it } from 'vitest';
import {
  CDNOW_BG_NBD,
  conditionalExpectedPurchases,
  expectedPurchases,
  fitBgNbd,
  hyp2f1,
  probabilityAlive,
  type RfmSummary,
} from './bg-nbd';
import { CDNOW_GAMMA_GAMMA, expectedSpend, fitGammaGamma, type SpendSummary } from './gamma-gamma';
import { nelderMead } from './nelder-mead';

// A seeded generator (mulberry32) so the simulated populations are the same on every run.
function rng(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// Marsaglia & Tsang's gamma sampler (shape k, scale 1), with the k < 1 boost.
function gammaSample(k: number, u: () => number): number {
  if (k < 1) return gammaSample(k + 1, u) * u() ** (1 / k);
  const d = k - 1 / 3;
  const c = 1 / Math.sqrt(9 * d);
  for (;;) {
    let x: number;
    let v: number;
    do {
      // Box-Muller normal.
      x = Math.sqrt(-2 * Math.log(1 - u())) * Math.cos(2 * Math.PI * u());
      v = 1 + c * x;
    } while (v <= 0);
    v = v * v * v;
    const w = u();
    if (w < 1 - 0.0331 * x ** 4 || Math.log(w) < 0.5 * x * x + d * (1 - v + Math.log(v))) return d * v;
  }
}

/** Customers drawn from the BG/NBD story itself, observed for T weeks after their first purchase. */
function simulateBgNbd(n: number, p: typeof CDNOW_BG_NBD, seed: number): RfmSummary[] {
  const u = rng(seed);
  const out: RfmSummary[] = [];
  for (let i = 0; i < n; i++) {
    const lambda = gammaSample(p.r, u) / p.alpha;
    const ga = gammaSample(p.a, u);
    const dropout = ga / (ga + gammaSample(p.b, u));
    const T = 20 + u() * 40;
    let t = 0;
    let x = 0;
    let tx = 0;
    for (;;) {
      t += -Math.log(1 - u()) / lambda;
      if (t > T) break;
      x++;
      tx = t;
      if (u() < dropout) break;
    }
    out.push({ x, tx, T });
  }
  return out;
}

describe('BG/NBD', () => {
  it('reproduces the published CDNOW figure E[X(39) | x=2, t_x=30.43, T=38.86] = 1.226', () => {
    const e = conditionalExpectedPurchases(CDNOW_BG_NBD, 39, { x: 2, tx: 30.43, T: 38.86 });
    expect(e).toBeCloseTo(1.226, 3);
  });

  it('agrees with itself: a customer seen at T=0 is a new customer', () => {
    for (const t of [1, 10, 52, 78]) {
      expect(conditionalExpectedPurchases(CDNOW_BG_NBD, t, { x: 0, tx: 0, T: 0 })).toBeCloseTo(
        expectedPurchases(CDNOW_BG_NBD, t),
        10,
      );
    }
    // More repeat purchases and a more recent last purchase both mean more expected purchases.
    const base = conditionalExpectedPurchases(CDNOW_BG_NBD, 52, { x: 2, tx: 20, T: 38 });
    expect(conditionalExpectedPurchases(CDNOW_BG_NBD, 52, { x: 5, tx: 20, T: 38 })).toBeGreaterThan(base);
    expect(conditionalExpectedPurchases(CDNOW_BG_NBD, 52, { x: 2, tx: 37, T: 38 })).toBeGreaterThan(base);
  });

  it('gives the probability of being alive: certain with no repeat purchase, lower the longer the silence', () => {
    expect(probabilityAlive(CDNOW_BG_NBD, { x: 0, tx: 0, T: 38 })).toBe(1);
    const recent = probabilityAlive(CDNOW_BG_NBD, { x: 3, tx: 37, T: 38 });
    const silent = probabilityAlive(CDNOW_BG_NBD, { x: 3, tx: 5, T: 38 });
    expect(recent).toBeGreaterThan(0.8);
    expect(silent).toBeLessThan(0.1);
  });

  it('evaluates 2F1 like the closed forms it reduces to', () => {
    // 2F1(1, 1; 2; z) = -ln(1 - z) / z
    expect(hyp2f1(1, 1, 2, 0.5)).toBeCloseTo(-Math.log(0.5) / 0.5, 12);
    // 2F1(a, b; b; z) = (1 - z)^-a
    expect(hyp2f1(0.7, 3, 3, 0.3)).toBeCloseTo(0.7 ** -0.7, 12);
  });

  it('recovers the parameters of a simulated population by maximum likelihood', () => {
    const truth = { r: 0.8, alpha: 5, a: 0.9, b: 3 };
    const customers = simulateBgNbd(4000, truth, 7);
    const fit = fitBgNbd(customers);
    expect(fit.converged).toBe(true);
    expect(fit.params.r).toBeGreaterThan(0.6);
    expect(fit.params.r).toBeLessThan(1.05);
    expect(fit.params.alpha).toBeGreaterThan(3.5);
    expect(fit.params.alpha).toBeLessThan(7);
    // The fitted model predicts the population's purchases as well as the truth does.
    const observed = customers.reduce((s, c) => s + c.x, 0) / customers.length;
    const meanT = customers.reduce((s, c) => s + c.T, 0) / customers.length;
    expect(expectedPurchases(fit.params, meanT)).toBeCloseTo(observed, 0);
  });
});

describe('Gamma-Gamma', () => {
  it('has the published CDNOW population mean spend pγ/(q-1) = 35.22', () => {
    expect(expectedSpend(CDNOW_GAMMA_GAMMA, { x: 0, m: 0 })).toBeCloseTo(35.22, 2);
  });

  it('shrinks a customer mean towards the population mean, less with more transactions', () => {
    const one = expectedSpend(CDNOW_GAMMA_GAMMA, { x: 1, m: 100 });
    const ten = expectedSpend(CDNOW_GAMMA_GAMMA, { x: 10, m: 100 });
    expect(one).toBeGreaterThan(35.22);
    expect(one).toBeLessThan(ten);
    expect(ten).toBeLessThan(100);
  });

  it('recovers simulated parameters by maximum likelihood', () => {
    const truth = { p: 6, q: 4, gamma: 15 };
    const u = rng(11);
    const customers: SpendSummary[] = [];
    for (let i = 0; i < 3000; i++) {
      const nu = gammaSample(truth.q, u) / truth.gamma;
      const x = 1 + Math.floor(u() * 6);
      let total = 0;
      for (let k = 0; k < x; k++) total += gammaSample(truth.p, u) / nu;
      customers.push({ x, m: total / x });
    }
    const fit = fitGammaGamma(customers);
    const mean = (g: typeof truth) => (g.p * g.gamma) / (g.q - 1);
    expect(mean(fit.params)).toBeGreaterThan(mean(truth) * 0.9);
    expect(mean(fit.params)).toBeLessThan(mean(truth) * 1.1);
  });
});

describe('Nelder-Mead', () => {
  it('finds the minimum of the Rosenbrock function', () => {
    const r = nelderMead(([x = 0, y = 0]) => (1 - x) ** 2 + 100 * (y - x * x) ** 2, [-1.2, 1], { tolerance: 1e-14 });
    expect(r.x[0]).toBeCloseTo(1, 3);
    expect(r.x[1]).toBeCloseTo(1, 3);
  });
});
