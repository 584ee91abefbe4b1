import type { GraphQLResolveInfo, SelectionSetNode } from 'graphql';

/** Whether the client asked for `field` directly under the current field (fragments included). */
export function selectsField(info: GraphQLResolveInfo, field: string): boolean {
  const visit = (set: SelectionSetNode | undefined): boolean =>
    (set?.selections ?? []).some((sel) => {
      if (sel.kind === 'Field') return sel.name.value === field;
      if (sel.kind === 'InlineFragment') return visit(sel.selectionSet);
      return visit(info.fragments[sel.name.value]?.selectionSet);
    });
  return info.fieldNodes.some((node) => visit(node.selectionSet));
}
