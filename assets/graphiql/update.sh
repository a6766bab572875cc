#!/usr/bin/env bash
# Re-vendors the GraphiQL playground's third-party files from the npm registry.
# authql embeds them in its binary so the playground works with no internet access.
# Usage: assets/graphiql/update.sh [graphiql-version] [react-version]
set -euo pipefail
graphiql=${1:-4.1.2}
react=${2:-18.3.1}
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
npm pack --silent "graphiql@$graphiql" "react@$react" "react-dom@$react" >/dev/null
for f in *.tgz; do mkdir "${f%.tgz}" && tar xzf "$f" -C "${f%.tgz}"; done
# graphiql 4 ships a self-contained UMD bundle (fonts and images inlined as data: URIs).
# Its source-map comment is dropped: the map is not shipped, and nothing should be fetched.
grep -v '^//# sourceMappingURL=' "graphiql-$graphiql/package/graphiql.min.js" >"$here/graphiql.min.js"
cp "graphiql-$graphiql/package/graphiql.min.css" "$here/graphiql.min.css"
cp "react-$react/package/umd/react.production.min.js" "$here/"
cp "react-dom-$react/package/umd/react-dom.production.min.js" "$here/"
{
  echo "graphiql $graphiql:"; cat "graphiql-$graphiql/package/LICENSE"; echo
  echo "react $react and react-dom $react:"; cat "react-$react/package/LICENSE"
} >"$here/LICENSES.txt"
echo "vendored graphiql $graphiql and react $react into $here"
