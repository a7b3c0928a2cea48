import gammaln from '@stdlib/math-base-special-gammaln';
import { nelderMead } from './nelder-mead';

/**
 * The Gamma-Gamma model of spend per transaction (Fader, Hardie & Lee 2005, "RFM and CLV: Using
 * Iso-Value Curves for Customer Base Analysis", J. Marketing Research 42(4), building on Colombo &
 * Jiang 1999). Each transaction's value is Gamma(p, ν) with ν ~ Gamma(q, γ) across customers; a
 * customer is summarised by the number of transactions x and their mean value m.
 */
export interface GammaGammaParams {
  p: number;
  q: number;
  gamma: number;
}

export interface SpendSummary {
  x: number;
  m: number;
}

/** The CDNOW estimates of the paper, used as the prior when too few repeat buyers to fit. */
export const CDNOW_GAMMA_GAMMA: GammaGammaParams = { p: 6.25, q: 3.74, gamma: 15.44 };

/** One customer's log-likelihood of observing mean spend m over x transactions (the paper's equation 3). */
export function gammaGammaLogLikelihood({ p, q, gamma }: GammaGammaParams, { x, m }: SpendSummary): number {
  return (
    gammaln(p * x + q) -
    gammaln(p * x) -
    gammaln(q) +
    q * Math.log(gamma) +
    (p * x - 1) * Math.log(m) +
    p * x * Math.log(x) -
    (p * x + q) * Math.log(gamma + m * x)
  );
}

/** E[M | m, x]: a weighted mean of the population mean pγ/(q-1) and the customer's own mean (equation 5). */
export function expectedSpend({ p, q, gamma }: GammaGammaParams, { x, m }: SpendSummary): number {
  if (x <= 0) return (p * gamma) / (q - 1);
  return (p * (gamma + x * m)) / (p * x + q - 1);
}

export interface GammaGammaFit {
  params: GammaGammaParams;
  logLikelihood: number;
  converged: boolean;
}

/** Maximum-likelihood fit over customers with at least one transaction of positive value. */
export function fitGammaGamma(
  customers: readonly SpendSummary[],
  start: GammaGammaParams = { p: 1, q: 2, gamma: 1 },
): GammaGammaFit {
  const usable = customers.filter((c) => c.x > 0 && c.m > 0);
  const unpack = (v: number[]): GammaGammaParams => ({
    p: Math.exp(v[0] ?? 0),
    q: Math.exp(v[1] ?? 0),
    gamma: Math.exp(v[2] ?? 0),
  });
  const negLogLikelihood = (v: number[]) => {
    const params = unpack(v);
    // q <= 1 has no finite mean spend; such a fit would predict infinite value.
    if (params.q <= 1) return Number.POSITIVE_INFINITY;
    let sum = 0;
    for (const c of usable) sum += gammaGammaLogLikelihood(params, c);
    return -sum / usable.length;
  };
  const result = nelderMead(negLogLikelihood, [start.p, start.q, start.gamma].map(Math.log), {
    maxIterations: 3000,
    tolerance: 1e-10,
  });
  return { params: unpack(result.x), logLikelihood: -result.fx * usable.length, converged: result.converged };
}
