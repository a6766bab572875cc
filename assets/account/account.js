// The account pages: sign up, sign in (password, then a second step when the account has
// one), verify an email address, reset a password, unlock an account, and the security
// page (sessions, password, two-step sign-in). They use only the public GraphQL API, in
// cookie mode (the refresh token stays in an HttpOnly cookie), and the sessionEvents
// subscription for live sign-out. No dependencies; nothing is loaded from elsewhere.
'use strict';

(() => {
  const marker = '/account/';
  const at = location.pathname.lastIndexOf(marker);
  const root = at >= 0 ? location.pathname.slice(0, at) : '';
  const base = root + '/account';
  const api = root + '/graphql';
  const page = (location.pathname.slice(base.length).replace(/^\/+|\/+$/g, '') || 'sign-in');
  const params = new URLSearchParams(location.search);
  // A mailed link's token is read once and taken out of the address bar and history.
  const linkToken = params.get('token');
  if (linkToken !== null) history.replaceState(null, '', location.pathname);
  const main = document.getElementById('main');
  const status = document.getElementById('status');

  // ------------------------------------------------------------------ the API, in cookie mode
  async function gql(query, variables, token) {
    const headers = {
      'content-type': 'application/json',
      accept: 'application/graphql-response+json, application/json',
      'x-authql-cookie': '1',
    };
    if (token) headers.authorization = 'Bearer ' + token;
    let res;
    try {
      res = await fetch(api, {
        method: 'POST', headers, credentials: 'same-origin',
        body: JSON.stringify({ query, variables: variables || {} }),
      });
    } catch (_) {
      return failure('The service cannot be reached. Check your connection and try again.');
    }
    try {
      return await res.json();
    } catch (_) {
      return failure('The service answered unexpectedly (' + res.status + ').');
    }
  }

  function failure(message) {
    return { errors: [{ message, extensions: { code: 'UNAVAILABLE' } }] };
  }

  function codeOf(answer) {
    return answer.errors && answer.errors[0] && answer.errors[0].extensions
      ? answer.errors[0].extensions.code : null;
  }

  // What a refresh answers when the browser holds no working cookie (or may not use it).
  const SIGNED_OUT = ['UNAUTHENTICATED', 'BAD_USER_INPUT', 'FORBIDDEN'];

  // The signed-in session: the access token in memory, renewed from the cookie before it
  // expires. `resume` answers 'ok', 'signed-out', or 'unreachable' (then it tries again).
  const session = {
    access: null,
    timer: null,
    async resume() {
      const answer = await gql('mutation Refresh { refresh { accessToken expiresIn } }');
      if (answer.errors && SIGNED_OUT.includes(codeOf(answer))) { this.end(); return 'signed-out'; }
      if (answer.errors) {
        // Anything else (unreachable, busy, an internal error) is tried again.
        clearTimeout(this.timer);
        this.timer = setTimeout(() => this.renew(), 5000 + Math.random() * 5000);
        return 'unreachable';
      }
      this.keep(answer.data.refresh);
      return 'ok';
    },
    // A renewal in the background: a session found ended signs the page out.
    async renew() {
      const state = await this.resume();
      if (state === 'signed-out' && page === 'security') go('sign-in', 'Your session has ended. Sign in again.');
      return state;
    },
    keep(payload) {
      this.access = payload.accessToken;
      clearTimeout(this.timer);
      const renewIn = Math.max(5, (payload.expiresIn || 60) - 30) * 1000;
      this.timer = setTimeout(() => this.renew(), renewIn);
    },
    end() {
      this.access = null;
      clearTimeout(this.timer);
    },
  };

  // ------------------------------------------------------------------ building the page
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (value === false || value == null) continue;
      if (name.startsWith('on')) node.addEventListener(name.slice(2), value);
      else if (name === 'text') node.textContent = value;
      else node.setAttribute(name, value === true ? '' : value);
    }
    for (const child of children.flat()) {
      if (child == null || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  function show(title, ...nodes) {
    document.title = title + ' · Your account';
    main.replaceChildren(el('h1', { text: title }), ...nodes);
    const notice = sessionStorage.getItem('authql.notice');
    if (notice) {
      sessionStorage.removeItem('authql.notice');
      main.insertBefore(el('p', { class: 'ok notice', text: notice }), main.children[1] || null);
      announce(notice);
    }
    main.focus();
  }

  // Said by screen readers (the live region is filled once the page has settled).
  function announce(text) {
    status.textContent = '';
    setTimeout(() => { status.textContent = text; }, 100);
  }

  // A visible error in `slot`, also announced.
  function complain(slot, answer) {
    const message = answer.errors.map((e) => e.message).join(' ');
    slot.replaceChildren(el('p', { class: 'error', role: 'alert', text: message }));
  }

  // Runs `action` with `button` disabled, so a double click sends one request.
  async function once(button, action) {
    if (button.disabled) return;
    button.disabled = true;
    try { await action(); } finally { button.disabled = false; }
  }

  function go(to, notice) {
    if (notice) sessionStorage.setItem('authql.notice', notice);
    main.replaceChildren();
    location.assign(base + '/' + to);
  }
  // A page brought back from the back/forward cache is built again from the session, so
  // Back after signing out shows nothing of the account.
  addEventListener('pageshow', (event) => { if (event.persisted) location.reload(); });

  // A form whose fields show the errors named after them (`extensions.field`), all at once.
  function form(spec) {
    const inputs = {};
    const general = el('p', { class: 'error', role: 'alert', tabindex: '-1', hidden: true });
    const rows = spec.fields.map((f) => {
      const id = spec.id + '-' + f.name;
      const error = el('span', { class: 'field-error', id: id + '-error', hidden: true });
      const input = el('input', {
        id, name: f.name, type: f.type || 'text', autocomplete: f.autocomplete || 'off',
        required: f.optional ? false : true, inputmode: f.inputmode, value: f.value,
        'aria-describedby': f.hint ? id + '-hint' : null,
        autocapitalize: 'off', spellcheck: 'false',
      });
      inputs[f.name] = { input, error, hint: f.hint ? id + '-hint' : null };
      return el('div', { class: 'field' }, el('label', { for: id, text: f.label }),
        f.hint ? el('span', { class: 'hint', id: id + '-hint', text: f.hint }) : null,
        input, error);
    });
    const button = el('button', { type: 'submit', text: spec.submit });
    const node = el('form', { id: spec.id, novalidate: true }, general, rows, button);
    const ui = {
      node,
      reset() {
        general.hidden = true;
        for (const { input, error, hint } of Object.values(inputs)) {
          error.hidden = true;
          error.textContent = '';
          input.removeAttribute('aria-invalid');
          input.setAttribute('aria-describedby', hint || '');
        }
      },
      errors(list) {
        ui.reset();
        let first = null;
        const loose = [];
        for (const e of list) {
          const field = e.extensions && e.extensions.field;
          const target = field && inputs[field];
          if (target) {
            target.error.textContent = e.message;
            target.error.hidden = false;
            target.input.setAttribute('aria-invalid', 'true');
            target.input.setAttribute('aria-describedby',
              [target.hint, target.error.id].filter(Boolean).join(' '));
            first = first || target.input;
          } else {
            loose.push(e.message);
          }
        }
        if (loose.length) {
          general.textContent = loose.join(' ');
          general.hidden = false;
        }
        (first || (loose.length ? general : button)).focus();
        announce(list.map((e) => e.message).join(' '));
      },
      value(name) { return inputs[name].input.value; },
    };
    node.addEventListener('submit', async (event) => {
      event.preventDefault();
      button.disabled = true;
      try {
        const values = {};
        for (const [name, { input }] of Object.entries(inputs)) values[name] = input.value;
        const errors = await spec.onSubmit(values, ui);
        if (errors && errors.length) ui.errors(errors);
      } finally {
        button.disabled = false;
      }
    });
    return ui;
  }

  // ------------------------------------------------------------------ sign in
  // What the sign-in asks after the password, by the `methods` an MFA_REQUIRED answer
  // lists. A later method (a passkey) adds its step here; the first one the account has
  // is offered.
  const secondSteps = {
    totp: (mfaToken) => codeStep(mfaToken),
    recovery_code: (mfaToken) => codeStep(mfaToken),
  };

  const AUTH = 'accessToken expiresIn';

  function signIn() {
    const f = form({
      id: 'sign-in', submit: 'Sign in',
      fields: [
        { name: 'usernameOrEmail', label: 'Username or email', autocomplete: 'username' },
        { name: 'password', label: 'Password', type: 'password', autocomplete: 'current-password' },
      ],
      async onSubmit(v) {
        const answer = await gql(
          'mutation Login($input: LoginInput!) { login(input: $input) { ' + AUTH + ' } }',
          { input: v });
        if (codeOf(answer) === 'MFA_REQUIRED') {
          const ext = answer.errors[0].extensions;
          const method = (ext.methods || []).find((m) => secondSteps[m]);
          if (method) return secondSteps[method](ext.mfaToken);
        }
        if (answer.errors) return answer.errors;
        session.keep(answer.data.login);
        go('security');
        return [];
      },
    });
    show('Sign in', f.node,
      el('p', {}, el('a', { href: 'reset-password', text: 'Forgot your password?' })),
      el('p', {}, 'New here? ', el('a', { href: 'sign-up', text: 'Create an account' })));
  }

  function codeStep(mfaToken) {
    const f = form({
      id: 'second-step', submit: 'Continue',
      fields: [{
        name: 'code', label: 'Code', autocomplete: 'one-time-code',
        hint: 'The 6-digit code from your authenticator app, or one of your recovery codes.',
      }],
      async onSubmit(v) {
        const answer = await gql(
          'mutation VerifyMfa($input: VerifyMfaInput!) { verifyMfa(input: $input) { ' + AUTH + ' } }',
          { input: { mfaToken, code: v.code.trim() } });
        if (codeOf(answer) === 'UNAUTHENTICATED') {
          go('sign-in', 'That sign-in took too long. Please sign in again.');
          return [];
        }
        if (answer.errors) return answer.errors;
        session.keep(answer.data.verifyMfa);
        go('security');
        return [];
      },
    });
    show('Two-step sign-in', el('p', { text: 'Your account asks for a second step.' }), f.node);
    return [];
  }

  // ------------------------------------------------------------------ sign up
  function signUp() {
    const f = form({
      id: 'sign-up', submit: 'Create account',
      fields: [
        { name: 'username', label: 'Username', autocomplete: 'username',
          hint: 'Letters a–z, digits and _ . -' },
        { name: 'email', label: 'Email', type: 'email', autocomplete: 'email' },
        { name: 'password', label: 'Password', type: 'password', autocomplete: 'new-password',
          hint: 'At least 8 characters, not a common password.' },
      ],
      async onSubmit(v) {
        const answer = await gql(
          'mutation SignUp($input: SignUpInput!) { signUp(input: $input) }', { input: v });
        if (answer.errors) return answer.errors;
        show('Check your inbox',
          el('p', {}, 'We sent a link to ', el('strong', { text: v.email }),
            '. Open it to confirm your address, then sign in.'),
          el('p', {}, el('a', { href: 'sign-in', text: 'Sign in' })));
        return [];
      },
    });
    show('Create an account', f.node,
      el('p', {}, 'Have an account? ', el('a', { href: 'sign-in', text: 'Sign in' })));
  }

  // ------------------------------------------------------------------ mailed links
  async function verifyEmail() {
    const token = linkToken || '';
    show('Confirming your email…');
    const answer = await gql('mutation VerifyEmail($token: String!) { verifyEmail(token: $token) }', { token });
    if (answer.errors) {
      show('This link does not work',
        el('p', { class: 'error', role: 'alert', text: answer.errors[0].message }),
        el('p', { text: 'Links work once and expire. Sign in and ask for a new one from the security page.' }),
        el('p', {}, el('a', { href: 'sign-in', text: 'Sign in' })));
      return;
    }
    if (await session.resume() === 'ok') {
      go('security', 'Your email address is confirmed.');
      return;
    }
    show('Email confirmed',
      el('p', { class: 'ok', id: 'verified', text: 'Your email address is confirmed.' }),
      el('p', {}, el('a', { href: 'sign-in', text: 'Sign in' })));
  }

  function resetPassword() {
    const token = linkToken;
    if (!token) {
      const f = form({
        id: 'request-reset', submit: 'Send the link',
        fields: [{ name: 'email', label: 'Email', type: 'email', autocomplete: 'email' }],
        async onSubmit(v) {
          const answer = await gql('mutation RequestReset($email: String!) { requestReset(email: $email) }', v);
          if (answer.errors) return answer.errors;
          show('Check your inbox', el('p', {},
            'If ', el('strong', { text: v.email }), ' has an account, a link to set a new password is on its way.'));
          return [];
        },
      });
      show('Reset your password', el('p', { text: 'We will mail you a link to set a new password.' }), f.node);
      return;
    }
    const f = form({
      id: 'reset', submit: 'Set the password',
      fields: [{ name: 'newPassword', label: 'New password', type: 'password',
        autocomplete: 'new-password', hint: 'At least 8 characters, not a common password.' }],
      async onSubmit(v) {
        const answer = await gql(
          'mutation ConfirmReset($input: ConfirmResetInput!) { confirmReset(input: $input) }',
          { input: { token, newPassword: v.newPassword } });
        if (answer.errors) return answer.errors;
        go('sign-in', 'Your password is set, and every session was signed out. Sign in with the new password.');
        return [];
      },
    });
    show('Choose a new password', f.node);
  }

  // The unlock works for the browser that uses it: it waits for a click, so that a mail
  // scanner opening the link does not spend it.
  function unlockAccount() {
    const token = linkToken || '';
    const result = el('div', {});
    const button = el('button', {
      type: 'button', id: 'unlock', text: 'Unlock sign-in from this browser',
      onclick: () => once(button, async () => {
        const answer = await gql('mutation Unlock($token: String!) { unlockAccount(token: $token) }', { token });
        if (answer.errors) { complain(result, answer); return; }
        go('sign-in', 'This browser may sign in to your account again.');
      }),
    });
    show('Unlock your account',
      el('p', { text: 'Too many wrong passwords locked sign-in to your account. If that was you, unlock it for this browser.' }),
      button, result);
  }

  // ------------------------------------------------------------------ security
  const ENDED = {
    LOGOUT: 'You signed out.',
    REVOKED: 'This session was signed out from another device.',
    LOGOUT_ALL: 'You signed out everywhere.',
    PASSWORD_CHANGED: 'Your password was changed, so this session was signed out.',
    PASSWORD_RESET: 'Your password was reset, so this session was signed out.',
    ADMIN: 'An administrator signed this session out.',
    REUSE_DETECTED: 'This session was signed out to protect your account.',
    EXPIRED: 'Your session expired.',
  };

  // Signs the page out as soon as its session ends anywhere (sessionEvents).
  function watchSession() {
    const url = (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + root + '/graphql/ws';
    let retry = 1000;
    const open = () => {
      if (!session.access) return;
      const ws = new WebSocket(url, 'graphql-transport-ws');
      ws.onopen = () => ws.send(JSON.stringify({
        type: 'connection_init', payload: { authorization: 'Bearer ' + session.access } }));
      ws.onmessage = (message) => {
        const msg = JSON.parse(message.data);
        if (msg.type === 'connection_ack') {
          retry = 1000;
          ws.send(JSON.stringify({ id: 'session', type: 'subscribe',
            payload: { query: 'subscription SessionEvents { sessionEvents { reason at } }' } }));
        } else if (msg.type === 'next' && msg.payload.data) {
          const reason = msg.payload.data.sessionEvents.reason;
          session.end();
          go('sign-in', ENDED[reason] || 'You were signed out.');
        } else if (msg.type === 'error') {
          announce('Live sign-out is not available: ' + msg.payload.map((e) => e.message).join(' '));
        } else if (msg.type === 'ping') {
          ws.send(JSON.stringify({ type: 'pong' }));
        }
      };
      ws.onclose = (event) => {
        if (!session.access) return;
        // 4401 without its event (the session ended before the subscription started):
        // a renewal finds the session ended and signs the page out.
        if (event.code === 4401) session.renew();
        else reconnect();
      };
    };
    // After a pause (jittered, growing), the session is renewed first: one that ended
    // while the connection was down signs the page out instead.
    const reconnect = () => {
      const wait = retry / 2 + Math.random() * retry;
      retry = Math.min(retry * 2, 30000);
      setTimeout(async () => {
        const state = await session.renew();
        if (state === 'ok') open();
        else if (state === 'unreachable') reconnect();
      }, wait);
    };
    open();
  }

  // Runs a sensitive change; when it needs a recent sign-in, asks for the password (and a
  // code when the account has a second factor) first, then runs it again. One question at
  // a time: a second change asking meanwhile gives the first its answer back (as Cancel).
  let pendingStepUp = null;
  async function withStepUp(slot, twoStep, change) {
    const answer = await change();
    if (codeOf(answer) !== 'REAUTHENTICATION_REQUIRED') return answer;
    if (pendingStepUp) pendingStepUp();
    const back = document.activeElement;
    return new Promise((resolve) => {
      const close = () => {
        if (pendingStepUp !== cancel) return;
        pendingStepUp = null;
        slot.replaceChildren();
        if (back && back.isConnected) back.focus();
      };
      const cancel = () => { close(); resolve(answer); };
      pendingStepUp = cancel;
      const withCode = twoStep();
      const fields = [{ name: 'password', label: 'Your password', type: 'password', autocomplete: 'current-password' }];
      if (withCode) {
        fields.push({ name: 'code', label: 'Code', autocomplete: 'one-time-code',
          hint: 'From your authenticator app, or one of your recovery codes.' });
      }
      const f = form({
        id: 'step-up', submit: 'Confirm', fields,
        async onSubmit(v) {
          const input = { password: v.password };
          if (withCode) input.code = v.code.trim();
          const proved = await gql(
            'mutation Reauthenticate($input: ReauthenticateInput!) { reauthenticate(input: $input) { ' + AUTH + ' } }',
            { input }, session.access);
          if (proved.errors) return proved.errors;
          session.keep(proved.data.reauthenticate);
          // Cancelled (or replaced) meanwhile: the caller was answered; no change is made.
          if (pendingStepUp !== cancel) return [];
          close();
          resolve(await change());
          return [];
        },
      });
      const button = el('button', { type: 'button', class: 'secondary', text: 'Cancel', onclick: cancel });
      slot.replaceChildren(el('p', { text: 'Confirm it is you to make this change.' }), f.node, button);
      f.node.querySelector('input').focus();
    });
  }

  async function security() {
    if (!session.access) {
      const resumed = await session.resume();
      if (resumed === 'unreachable') {
        unavailable('The service cannot be reached right now.');
        return;
      }
      if (resumed !== 'ok') {
        go('sign-in', 'Sign in to see your security settings.');
        return;
      }
    }
    const answer = await gql(
      'query Security { me { username email emailVerified mfa { totpEnabled recoveryCodesLeft } } ' +
      'sessions { id current createdAt lastUsedAt userAgent ip } }', {}, session.access);
    if (codeOf(answer) === 'UNAUTHENTICATED') {
      session.end();
      go('sign-in', 'Sign in to see your security settings.');
      return;
    }
    if (answer.errors) {
      unavailable(answer.errors.map((e) => e.message).join(' '));
      return;
    }
    const { me, sessions } = answer.data;
    const stepUpSlot = el('div', { id: 'step-up-slot' });
    const twoStep = { on: me.mfa.totpEnabled };
    // A password change and turning two-step sign-in on end the other sessions: the list
    // is read again after them.
    const sessionsSlot = el('div', {}, sessionsSection(sessions));
    const othersEnded = async () => {
      const r = await gql('query Sessions { sessions { id current createdAt lastUsedAt userAgent ip } }',
        {}, session.access);
      if (!r.errors) sessionsSlot.replaceChildren(sessionsSection(r.data.sessions));
    };
    show('Security',
      el('p', {}, 'Signed in as ', el('strong', { id: 'who', text: me.username }), ' (' + me.email + ')',
        me.emailVerified ? '' : ' — not confirmed yet'),
      el('button', { type: 'button', class: 'secondary', id: 'sign-out', onclick: signOut, text: 'Sign out' }),
      stepUpSlot,
      sessionsSlot,
      passwordSection(stepUpSlot, twoStep, othersEnded),
      twoStepSection(stepUpSlot, me.mfa, twoStep, othersEnded));
    watchSession();
  }

  // The security page when the service cannot answer it now, with a way to try again.
  function unavailable(message) {
    show('Security', el('p', { class: 'error', role: 'alert', text: message }),
      el('button', { type: 'button', id: 'try-again', text: 'Try again',
        onclick: (event) => once(event.currentTarget, security) }));
  }

  async function signOut(event) {
    const button = event.currentTarget;
    await once(button, async () => {
      const answer = await gql('mutation Logout { logout }');
      if (answer.errors && codeOf(answer) !== 'UNAUTHENTICATED') {
        const note = el('p', { class: 'error', role: 'alert',
          text: 'Signing out failed: ' + answer.errors[0].message + ' Try again.' });
        button.after(note);
        return;
      }
      session.end();
      go('sign-in', 'You signed out.');
    });
  }

  // "Chrome on Linux" from a user agent string (the whole string is the title).
  function describeAgent(ua) {
    if (!ua) return 'Unknown device';
    const browser = [['Edg/', 'Edge'], ['Firefox/', 'Firefox'], ['Chrome/', 'Chrome'],
      ['Safari/', 'Safari']].find(([k]) => ua.includes(k));
    const system = [['Android', 'Android'], ['iPhone', 'iPhone'], ['iPad', 'iPad'],
      ['Windows', 'Windows'], ['Mac OS', 'macOS'], ['Linux', 'Linux']].find(([k]) => ua.includes(k));
    if (!browser && !system) return ua.slice(0, 60);
    return (browser ? browser[1] : 'A browser') + (system ? ' on ' + system[1] : '');
  }

  function sessionsSection(sessions) {
    const title = el('h2', { id: 'sessions-title', tabindex: '-1', text: 'Where you are signed in' });
    const problem = el('div', {});
    const list = el('ul', { class: 'sessions', id: 'sessions' });
    for (const s of sessions) {
      const what = describeAgent(s.userAgent) + (s.ip ? ' · ' + s.ip : '');
      const when = 'last used ' + new Date(s.lastUsedAt).toLocaleString();
      const item = el('li', { 'data-session': s.id },
        el('span', { title: s.userAgent || '' }, el('span', { text: what }), el('br'),
          el('span', { class: 'hint', text: when })));
      if (s.current) {
        item.append(el('strong', { text: 'This browser' }));
      } else {
        item.append(el('button', {
          type: 'button', class: 'secondary', 'aria-label': 'Sign out ' + what,
          text: 'Sign out',
          onclick(event) {
            const button = event.currentTarget;
            return once(button, async () => {
              const r = await gql('mutation Revoke($id: ID!) { revokeSession(id: $id) }', { id: s.id }, session.access);
              if (r.errors) { complain(problem, r); return; }
              item.remove();
              title.focus();
              announce('Signed out ' + what);
            });
          },
        }));
      }
      list.append(item);
    }
    return el('section', { 'aria-labelledby': 'sessions-title' }, title, problem, list);
  }

  function passwordSection(slot, twoStep, othersEnded) {
    const live = () => twoStep.on;
    const note = el('p', { class: 'ok', role: 'status', hidden: true });
    const f = form({
      id: 'change-password', submit: 'Change password',
      fields: [
        { name: 'currentPassword', label: 'Current password', type: 'password', autocomplete: 'current-password' },
        { name: 'newPassword', label: 'New password', type: 'password', autocomplete: 'new-password' },
      ],
      async onSubmit(v) {
        const answer = await withStepUp(slot, live, () => gql(
          'mutation ChangePassword($input: ChangePasswordInput!) { changePassword(input: $input) }',
          { input: v }, session.access));
        if (answer.errors) return answer.errors;
        f.node.reset();
        note.textContent = 'Password changed. Your other sessions were signed out.';
        note.hidden = false;
        announce(note.textContent);
        othersEnded();
        return [];
      },
    });
    return el('section', { 'aria-labelledby': 'password-title' },
      el('h2', { id: 'password-title', text: 'Password' }), note, f.node);
  }

  function twoStepSection(slot, mfa, twoStep, othersEnded) {
    const title = el('h2', { id: 'two-step-title', tabindex: '-1', text: 'Two-step sign-in' });
    const problem = el('div', {});
    const body = el('div', { id: 'two-step' });
    const section = el('section', { 'aria-labelledby': 'two-step-title' }, title, problem, body);
    // Step-up asks for a code once the account has a second factor.
    const live = () => twoStep.on;
    const act = (button, change, then) => once(button, async () => {
      problem.replaceChildren();
      const answer = await withStepUp(slot, live, change);
      if (answer.errors) { complain(problem, answer); return; }
      then(answer.data);
    });
    const codesList = (codes) => el('div', {},
      el('p', { text: 'Recovery codes: each works once if you lose your device. Keep them somewhere safe; they are not shown again.' }),
      el('ul', { class: 'codes', id: 'recovery-codes', tabindex: '-1',
        'aria-label': 'Recovery codes' }, codes.map((c) => el('li', { text: c }))));
    const off = () => {
      twoStep.on = false;
      const start = el('button', {
        type: 'button', id: 'totp-start', text: 'Turn on',
        onclick: () => act(start,
          () => gql('mutation Start { startTotpEnrollment { secret otpauthUri qrCodeSvg } }', {}, session.access),
          (data) => enrol(data.startTotpEnrollment)),
      });
      body.replaceChildren(
        el('p', { text: 'Off. Turn it on to ask for a code from an authenticator app after your password.' }),
        start);
    };
    const enrol = (e) => {
      const qr = el('img', {
        class: 'qr', id: 'totp-qr', alt: 'QR code to scan with your authenticator app',
        src: 'data:image/svg+xml;base64,' + btoa(e.qrCodeSvg),
      });
      const f = form({
        id: 'totp-confirm', submit: 'Turn on',
        fields: [{ name: 'code', label: 'Code from the app', autocomplete: 'one-time-code', inputmode: 'numeric' }],
        async onSubmit(v) {
          const answer = await withStepUp(slot, live, () => gql(
            'mutation Confirm($code: String!) { confirmTotpEnrollment(code: $code) { codes } }',
            { code: v.code.trim() }, session.access));
          if (answer.errors) return answer.errors;
          on(answer.data.confirmTotpEnrollment.codes.length, answer.data.confirmTotpEnrollment.codes);
          othersEnded();
          return [];
        },
      });
      body.replaceChildren(
        el('p', { text: 'Scan this with your authenticator app, or enter the key by hand, then type the code it shows.' }),
        qr, el('p', {}, 'Key: ', el('code', { id: 'totp-secret', text: e.secret })), f.node);
      f.node.querySelector('input').focus();
    };
    const on = (left, codes) => {
      twoStep.on = true;
      const renew = el('button', {
        type: 'button', class: 'secondary', id: 'codes-new', text: 'New recovery codes',
        onclick: () => act(renew,
          () => gql('mutation Regenerate { regenerateRecoveryCodes { codes } }', {}, session.access),
          (data) => on(data.regenerateRecoveryCodes.codes.length, data.regenerateRecoveryCodes.codes)),
      });
      const stop = el('button', {
        type: 'button', class: 'secondary', id: 'totp-off', text: 'Turn off',
        onclick: () => act(stop,
          () => gql('mutation Disable { disableTotp }', {}, session.access),
          () => { off(); title.focus(); announce('Two-step sign-in is off.'); }),
      });
      body.replaceChildren(
        el('p', { id: 'totp-on', text: 'On. ' + left + ' recovery codes left.' }),
        codes ? codesList(codes) : '', renew, ' ', stop);
      if (codes) body.querySelector('#recovery-codes').focus();
    };
    if (mfa.totpEnabled) on(mfa.recoveryCodesLeft); else off();
    return section;
  }

  // ------------------------------------------------------------------ routes
  const pages = {
    'sign-in': signIn,
    'sign-up': signUp,
    'verify-email': verifyEmail,
    'reset-password': resetPassword,
    'unlock-account': unlockAccount,
    'security': security,
  };
  (pages[page] || (() => show('Not found', el('p', {}, el('a', { href: 'sign-in', text: 'Sign in' })))))();
})();
