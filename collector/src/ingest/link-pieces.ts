import type { EventSummary, IngestBatch } from './event-row';
import { sliceBatch } from './ingest-batch';

/**
 * A request's events cut into consecutive pieces that each ask for at most `max` identity links
 * (the events `links` counts), or the request itself when it asks for no more. Identity linking costs
 * several statements per link, so a 2,500-identify request committed whole would hold the writer (on
 * PGlite, the whole process) for seconds; written piece by piece, other requests take turns between.
 */
export function linkPieces(batch: IngestBatch, max: number, links: (event: EventSummary) => boolean): IngestBatch[] {
  const pieces: IngestBatch[] = [];
  let start = 0;
  let count = 0;
  batch.events.forEach((event, i) => {
    if (!links(event)) return;
    if (count === max) {
      pieces.push(sliceBatch(batch, start, i));
      start = i;
      count = 0;
    }
    count++;
  });
  if (!pieces.length) return [batch];
  pieces.push(sliceBatch(batch, start, batch.events.length));
  return pieces;
}
