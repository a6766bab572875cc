// Starts GraphiQL against this service's own /graphql endpoint, with a first tab that walks
// the main flows: sign up, log in, who am I, refresh, log out.
(function () {
  var endpoint = new URL('/graphql', window.location.href).toString();
  var fetcher = GraphiQL.createFetcher({ url: endpoint });
  var query = [
    '# Welcome to authql. Each operation below is one step of the main flow: run them in',
    '# order with the run button (it asks which one). Their inputs are in Variables;',
    '# Headers shows where the access token goes: paste the accessToken that Login',
    '# answers in place of <accessToken> before running Me.',
    '',
    'mutation SignUp($username: String!, $email: String!, $password: String!) {',
    '  signUp(input: { username: $username, email: $email, password: $password })',
    '}',
    '',
    'mutation Login($username: String!, $password: String!) {',
    '  login(input: { usernameOrEmail: $username, password: $password }) {',
    '    accessToken',
    '    refreshToken',
    '    expiresIn',
    '    user { id username }',
    '  }',
    '}',
    '',
    'query Me {',
    '  me { id username email emailVerified createdAt lastLoginAt }',
    '}',
    '',
    '# Paste the refreshToken that Login (or the last Refresh) answered into Variables.',
    'mutation Refresh($refreshToken: String!) {',
    '  refresh(refreshToken: $refreshToken) { accessToken refreshToken expiresIn }',
    '}',
    '',
    'mutation Logout($refreshToken: String!) {',
    '  logout(refreshToken: $refreshToken)',
    '}',
    ''
  ].join('\n');
  var variables = JSON.stringify({
    username: 'alice',
    email: 'alice@example.com',
    password: 'correct-horse-battery-staple',
    refreshToken: '<refreshToken>'
  }, null, 2);
  var headers = JSON.stringify({ Authorization: 'Bearer <accessToken>' }, null, 2);
  var props = {
    fetcher: fetcher,
    defaultQuery: query,
    defaultHeaders: headers,
    defaultEditorToolsVisibility: 'headers'
  };
  // GraphiQL has no default for variables: they are given only while none are stored, so
  // that a reload keeps what the user typed.
  var stored = null;
  try {
    stored = window.localStorage.getItem('graphiql:variables');
  } catch (e) {
    stored = null;
  }
  if (stored === null) {
    props.variables = variables;
  }
  var root = ReactDOM.createRoot(document.getElementById('graphiql'));
  root.render(React.createElement(GraphiQL, props));
})();
