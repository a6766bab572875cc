// Starts GraphiQL against this service's own /graphql endpoint.
(function () {
  var endpoint = new URL('/graphql', window.location.href).toString();
  var fetcher = GraphiQL.createFetcher({ url: endpoint });
  var root = ReactDOM.createRoot(document.getElementById('graphiql'));
  root.render(
    React.createElement(GraphiQL, {
      fetcher: fetcher,
      defaultQuery: '# Welcome to authql. Write a query and press Ctrl-Enter.\n{\n  __typename\n}\n',
    })
  );
})();
