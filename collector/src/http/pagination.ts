import type { PageInfo } from '@tributary/spec';

/** The pagination block of a list answer. */
export function pageInfo(page: number, limit: number, total: number): PageInfo {
  return { page, limit, total, totalPages: Math.ceil(total / limit) };
}

/** Rows to skip for a 1-based page. */
export const pageOffset = (q: { page: number; limit: number }) => (q.page - 1) * q.limit;
