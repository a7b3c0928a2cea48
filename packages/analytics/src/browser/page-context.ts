import type { Properties } from '../core/wire';

/** The page as Segment describes it; also the default properties of `page()`. */
export function pageProperties(): Properties {
  const canonical = document.querySelector<HTMLLinkElement>('link[rel=canonical]')?.href;
  return {
    path: location.pathname,
    referrer: document.referrer,
    search: location.search,
    title: document.title,
    url: canonical || location.href,
  };
}

const UTM: Record<string, string> = {
  utm_source: 'source',
  utm_medium: 'medium',
  utm_campaign: 'name',
  utm_term: 'term',
  utm_content: 'content',
};

/** `context.campaign` from the URL's UTM parameters (`utm_campaign` becomes `name`, as Segment names it). */
export function campaign(search = location.search): Properties | undefined {
  const out: Properties = {};
  new URLSearchParams(search).forEach((v, k) => {
    // Only utm_ parameters are looked up: `?constructor=` must not find Object's own members.
    const name = k.startsWith('utm_') && UTM[k];
    if (name) out[name] = v;
  });
  return Object.keys(out).length ? out : undefined;
}

/** What the browser tells about the visit, for every event's context. */
export function browserContext(): Properties {
  const ctx: Properties = {
    page: pageProperties(),
    userAgent: navigator.userAgent,
    locale: navigator.language,
    screen: { width: screen.width, height: screen.height, density: devicePixelRatio },
    timezone: Intl.DateTimeFormat().resolvedOptions().timeZone,
  };
  const c = campaign();
  if (c) ctx.campaign = c;
  return ctx;
}
