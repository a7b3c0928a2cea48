import gammaln from '@stdlib/math-base-special-gammaln';
import { nelderMead } from './nelder-mead';

/**
 * The BG/NBD model of Fader, Hardie & Lee (2005), "Counting Your Customers the Easy Way: An
 * Alternative to the Pareto/NBD Model", Marketing Science 24(2). While alive, a customer buys as a
 * Poisson process with rate λ ~ Gamma(r, α); after each purchase they drop out with probability
 * p ~ Beta(a, b). A customer is summarised by x (repeat purchases), t_x (time of the last purchase
 * since the first) and T (time since the first purchase), all in the same unit (weeks here).
 *
 * No npm package implements it, so the published formulas are transcribed below, equation numbers
 * from the paper and from Hardie's note "Computing E[X(t) | x, t_x, T]".
 */
export interface BgNbdParams {
  r: number;
  alpha: number;
  a: number;
  b: number;
}

export interface RfmSummary {
  /** Repeat purchases. */
  x: number;
  /** Time from the first to the last purchase. */
  tx: number;
  /** Time from the first purchase to now. */
  T: number;
}

/** The CDNOW estimates of the paper (weeks), used as the prior when too few customers to fit. */
export const CDNOW_BG_NBD: BgNbdParams = { r: 0.243, alpha: 4.414, a: 0.793, b: 2.426 };

/** Gauss's hypergeometric function 2F1(a, b; c; z) by its power series, for 0 <= z < 1. */
export function hyp2f1(a: number, b: number, c: number, z: number): number {
  let term = 1;
  let sum = 1;
  for (let k = 0; k < 100_000; k++) {
    term *= ((a + k) * (b + k) * z) / ((c + k) * (k + 1));
    sum += term;
    if (Math.abs(term) <= 1e-15 * Math.abs(sum)) break;
  }
  return sum;
}

const logSumExp = (p: number, q: number) => {
  const m = Math.max(p, q);
  return m === Number.NEGATIVE_INFINITY ? m : m + Math.log(Math.exp(p - m) + Math.exp(q - m));
};

/** One customer's log-likelihood, equation (6) of the paper in log form. */
export function bgNbdLogLikelihood({ r, alpha, a, b }: BgNbdParams, { x, tx, T }: RfmSummary): number {
  const common =
    gammaln(r + x) -
    gammaln(r) +
    r * Math.log(alpha) +
    gammaln(a + b) +
    gammaln(b + x) -
    gammaln(b) -
    gammaln(a + b + x);
  const stillAlive = -(r + x) * Math.log(alpha + T);
  // B(a+1, b+x-1) / B(a, b+x) = a / (b+x-1): the term for "dropped out right after the last purchase".
  const droppedOut =
    x > 0 ? Math.log(a) - Math.log(b + x - 1) - (r + x) * Math.log(alpha + tx) : Number.NEGATIVE_INFINITY;
  return common + logSumExp(stillAlive, droppedOut);
}

/** E[X(t)], the expected purchases of a new customer in (0, t]: equation (7). */
export function expectedPurchases({ r, alpha, a, b }: BgNbdParams, t: number): number {
  if (t <= 0) return 0;
  const z = t / (alpha + t);
  return ((a + b - 1) / (a - 1)) * (1 - (alpha / (alpha + t)) ** r * hyp2f1(r, b, a + b - 1, z));
}

/** P(alive | x, t_x, T): equation (A4) of the technical appendix. */
export function probabilityAlive({ r, alpha, a, b }: BgNbdParams, { x, tx, T }: RfmSummary): number {
  if (x === 0) return 1;
  return 1 / (1 + (a / (b + x - 1)) * ((alpha + T) / (alpha + tx)) ** (r + x));
}

/** E[Y(t) | x, t_x, T], the expected purchases in the next t: equation (10). */
export function conditionalExpectedPurchases(params: BgNbdParams, t: number, summary: RfmSummary): number {
  if (t <= 0) return 0;
  const { r, alpha, a, b } = params;
  const { x, tx, T } = summary;
  const z = t / (alpha + T + t);
  const numerator =
    ((a + b + x - 1) / (a - 1)) *
    (1 - ((alpha + T) / (alpha + T + t)) ** (r + x) * hyp2f1(r + x, b + x, a + b + x - 1, z));
  const denominator = 1 + (x > 0 ? (a / (b + x - 1)) * ((alpha + T) / (alpha + tx)) ** (r + x) : 0);
  return numerator / denominator;
}

export interface BgNbdFit {
  params: BgNbdParams;
  logLikelihood: number;
  converged: boolean;
}

/**
 * Maximum-likelihood estimates for a population. The optimiser works on log-parameters so all four
 * stay positive. `a` may be below 1 (the paper's CDNOW fit is), but a + b must exceed 1: the
 * expectations divide by a - 1 and need c = a + b - 1 > 0 in their hypergeometric series.
 */
export function fitBgNbd(
  customers: readonly RfmSummary[],
  start: BgNbdParams = { r: 1, alpha: 1, a: 1, b: 1 },
): BgNbdFit {
  const unpack = (v: number[]): BgNbdParams => ({
    r: Math.exp(v[0] ?? 0),
    alpha: Math.exp(v[1] ?? 0),
    a: Math.exp(v[2] ?? 0),
    b: Math.exp(v[3] ?? 0),
  });
  const negLogLikelihood = (v: number[]) => {
    const p = unpack(v);
    if (p.a + p.b <= 1) return Number.POSITIVE_INFINITY;
    let sum = 0;
    for (const c of customers) sum += bgNbdLogLikelihood(p, c);
    return -sum / customers.length;
  };
  const result = nelderMead(negLogLikelihood, [start.r, start.alpha, start.a, start.b].map(Math.log), {
    maxIterations: 3000,
    tolerance: 1e-10,
  });
  return { params: unpack(result.x), logLikelihood: -result.fx * customers.length, converged: result.converged };
}
