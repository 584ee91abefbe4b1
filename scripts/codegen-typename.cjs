// Adds __typename to every selection set of the generated documents and of the persisted-documents
// manifest: Apollo Client's cache needs it, and a document sent by hash runs exactly as listed.
const { addTypenameSelectionDocumentTransform } = require('@graphql-codegen/client-preset');

exports.transform = addTypenameSelectionDocumentTransform.transform;
