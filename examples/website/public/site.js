// The site's own code: plain calls on window.analytics, which work before the SDK has loaded
// (the snippet's stub queues them) and after (the SDK replaces the stub).
document.addEventListener('click', (e) => {
  const el = e.target instanceof Element ? e.target.closest('[data-track]') : null;
  if (!el) return;
  const eventType = el.getAttribute('data-event-type') || undefined;
  window.analytics.track(
    el.getAttribute('data-track'),
    { label: el.textContent.trim() },
    eventType ? { eventType } : {},
  );
});

const login = document.getElementById('login');
login?.addEventListener('submit', (e) => {
  e.preventDefault();
  const email = new FormData(login).get('email').toString().trim().toLowerCase();
  window.analytics.identify(`user-${email}`, { email });
  window.analytics.track('Signed In', {}, { eventType: 'LOGIN' });
  location.href = '/account.html';
});

document.getElementById('logout')?.addEventListener('click', () => {
  window.analytics.track('Signed Out', {}, { eventType: 'LOGOUT' });
  window.analytics.reset();
  location.href = '/';
});

document.getElementById('consent-accept')?.addEventListener('click', () => {
  window.analytics.consent({ analytics: true, marketing: true });
});
document.getElementById('consent-decline')?.addEventListener('click', () => {
  window.analytics.consent({ analytics: false, marketing: false });
});

const who = document.getElementById('who');
if (who) window.analytics.ready(() => (who.textContent = JSON.stringify(window.analytics.user(), null, 2)));
