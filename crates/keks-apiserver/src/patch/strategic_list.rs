//! Strategic merge of lists with the `merge` strategy, as apimachinery's `mergeSlice` does
//! it. Lists of scalars merge as sets (`$deleteFromPrimitiveList` removes items); lists of
//! objects merge element by element on the merge key, after `$patch: delete` elements removed
//! theirs and a `$patch: replace` element swapped the list for the patch's. The result keeps
//! the patch's elements in the patch's order and interleaves the server-only ones where the
//! current list had them.

use serde_json::Value;

use super::go::{self, GoType, SmpError, ERR_NO_LIST_OF_LISTS};
use super::schema::Ty;
use super::strategic::{merge_map, DELETE, DIRECTIVE, MERGE, REPLACE};

static NIL: Value = Value::Null;

/// apimachinery's `mergeSlice`: merges `patch` into `original`, lists of `elem`.
///
/// `view`, when given, holds a copy of `original` and is left as what Go's caller still sees
/// through its slice of the original list: Go removes and appends elements inside the
/// original's backing array (removals shift it left, appends refill the freed slots), and
/// `$setElementOrder` orders the server-only elements by that view.
pub(super) fn merge_slice(
    original: Vec<Value>,
    patch: Vec<Value>,
    elem: Ty,
    merge_key: &str,
    is_delete_list: bool,
    mut view: Option<&mut Vec<Value>>,
) -> Result<Vec<Value>, SmpError> {
    if original.is_empty() && patch.is_empty() {
        return Ok(original);
    }
    let kind = element_type(&[&original, &patch])?;
    if kind != GoType::Map {
        if is_delete_list {
            return Ok(original
                .into_iter()
                .filter(|v| !patch.contains(v))
                .collect());
        }
        let (merged, server_order) = if patch.is_empty() {
            // Appending nothing yields the original's own array, which the dedupe edits.
            let mut array = original;
            let n = dedupe_scalars(&mut array);
            if let Some(view) = view {
                view.clone_from(&array);
            }
            (array[..n].to_vec(), array)
        } else {
            let mut both = original.clone();
            both.extend(patch.iter().cloned());
            let n = dedupe_scalars(&mut both);
            both.truncate(n);
            (both, original)
        };
        let (in_patch, server_only) = partition_scalars(merged, &patch);
        return normalize_element_order(in_patch, server_only, &patch, &server_order, "", kind);
    }
    if merge_key.is_empty() {
        return Err(SmpError(format!(
            "cannot merge lists without merge key for {}",
            elem.kind_name()
        )));
    }
    let (original, patch, replaced) =
        apply_special_elements(original, patch, merge_key, view.as_deref_mut())?;
    let server_order = original.clone();
    let merged = merge_elements(
        original,
        &patch,
        merge_key,
        elem,
        if replaced { None } else { view },
    )?;
    let (in_patch, server_only) = partition_maps(merged, &patch, merge_key)?;
    normalize_element_order(
        in_patch,
        server_only,
        &patch,
        &server_order,
        merge_key,
        kind,
    )
}

/// `mergeSliceWithSpecialElements`: applies the `$patch` elements. Returns the list to merge
/// into, the plain patch elements, and whether a `$patch: replace` swapped the list.
fn apply_special_elements(
    mut original: Vec<Value>,
    patch: Vec<Value>,
    merge_key: &str,
    mut view: Option<&mut Vec<Value>>,
) -> Result<(Vec<Value>, Vec<Value>, bool), SmpError> {
    let mut plain = Vec::new();
    let mut replace = false;
    for v in patch {
        let Some(directive) = v.get(DIRECTIVE) else {
            plain.push(v);
            continue;
        };
        match directive.as_str() {
            Some(DELETE) => {
                let value = v
                    .get(merge_key)
                    .ok_or_else(|| SmpError::no_merge_key(&v, merge_key))?;
                while let Some(i) = find_by_key(&original, merge_key, value)? {
                    original.remove(i);
                    if let Some(view) = view.as_deref_mut() {
                        for (k, item) in original.iter().enumerate().skip(i) {
                            view[k] = item.clone();
                        }
                    }
                }
            }
            Some(REPLACE) => replace = true,
            Some(MERGE) => {
                return Err(SmpError::new(
                    "merging lists cannot yet be specified in the patch",
                ))
            }
            _ => return Err(SmpError::bad_patch_type(directive, &v)),
        }
    }
    Ok(match replace {
        true => (plain, Vec::new(), true),
        false => (original, plain, false),
    })
}

/// `mergeSliceWithoutSpecialElements`: merges each patch element into the element with the
/// same merge key, or appends it.
fn merge_elements(
    mut original: Vec<Value>,
    patch: &[Value],
    merge_key: &str,
    elem: Ty,
    mut view: Option<&mut Vec<Value>>,
) -> Result<Vec<Value>, SmpError> {
    for v in patch {
        let Value::Object(p) = v else {
            return Err(SmpError::bad_arg_type(GoType::Map, v));
        };
        let value = p
            .get(merge_key)
            .ok_or_else(|| SmpError::no_merge_key(v, merge_key))?;
        match find_by_key(&original, merge_key, value)? {
            Some(i) => {
                let Value::Object(o) = original[i].take() else {
                    return Err(SmpError::bad_arg_type(GoType::Map, &original[i]));
                };
                original[i] = Value::Object(merge_map(o, p.clone(), elem)?);
            }
            None => {
                // Within the original's capacity, Go's append writes into the shared array.
                if let Some(view) = view.as_deref_mut() {
                    if original.len() < view.len() {
                        view[original.len()] = v.clone();
                    }
                }
                original.push(v.clone());
            }
        }
    }
    Ok(original)
}

/// `findMapInSliceBasedOnKeyValue`: the first element whose merge key has this value.
fn find_by_key(list: &[Value], merge_key: &str, value: &Value) -> Result<Option<usize>, SmpError> {
    for (i, item) in list.iter().enumerate() {
        let Value::Object(m) = item else {
            return Err(SmpError(format!("value for key {i} is not a map")));
        };
        if m.get(merge_key) == Some(value) {
            return Ok(Some(i));
        }
    }
    Ok(None)
}

/// `sliceElementType`: the one Go type of the elements of all the lists.
pub(super) fn element_type(lists: &[&[Value]]) -> Result<GoType, SmpError> {
    let mut found: Option<GoType> = None;
    for item in lists.iter().flat_map(|l| l.iter()) {
        let t = GoType::of(item);
        match found {
            // Go dereferences the nil type of a leading null and panics.
            None if t == GoType::Nil => {
                return Err(SmpError::new(
                    "runtime error: invalid memory address or nil pointer dereference",
                ))
            }
            None if t == GoType::Slice => return Err(SmpError::new(ERR_NO_LIST_OF_LISTS)),
            None => found = Some(t),
            Some(prev) if prev != t => {
                return Err(SmpError(format!(
                    "list element types are not identical: {}",
                    go::v_lists(lists)
                )))
            }
            Some(_) => {}
        }
    }
    found.ok_or_else(|| SmpError::new("no elements in any of the given slices"))
}

/// `deduplicateScalars`, in place as Go does it (a duplicate is overwritten by the last
/// element). Returns the new length; the rest of the array keeps what Go leaves there.
fn dedupe_scalars(s: &mut [Value]) -> usize {
    let mut length = s.len() as isize - 1;
    let mut i = 0isize;
    while i < length {
        let mut j = i + 1;
        while j <= length {
            if s[i as usize] == s[j as usize] {
                s[j as usize] = s[length as usize].clone();
                length -= 1;
            } else {
                j += 1;
            }
        }
        i += 1;
    }
    (length + 1) as usize
}

/// `partitionPrimitivesByPresentInList`: the items in `by`, then the others.
pub(super) fn partition_scalars(list: Vec<Value>, by: &[Value]) -> (Vec<Value>, Vec<Value>) {
    list.into_iter().partition(|v| by.contains(v))
}

/// `partitionMapsByPresentInList`: the elements whose merge key appears in `by`, then the others.
pub(super) fn partition_maps(
    list: Vec<Value>,
    by: &[Value],
    merge_key: &str,
) -> Result<(Vec<Value>, Vec<Value>), SmpError> {
    let (mut inside, mut outside) = (Vec::new(), Vec::new());
    for v in list {
        let Value::Object(m) = &v else {
            return Err(SmpError::bad_arg_type(GoType::Map, &v));
        };
        let value = m
            .get(merge_key)
            .ok_or_else(|| SmpError::no_merge_key(&v, merge_key))?;
        match find_by_key(by, merge_key, value)? {
            Some(_) => inside.push(v),
            None => outside.push(v),
        }
    }
    Ok((inside, outside))
}

/// `normalizeElementOrder`: sorts the patch's items by `patch_order` and the server-only
/// ones by `server_order`, then interleaves them.
pub(super) fn normalize_element_order(
    patch_items: Vec<Value>,
    server_only: Vec<Value>,
    patch_order: &[Value],
    server_order: &[Value],
    merge_key: &str,
    kind: GoType,
) -> Result<Vec<Value>, SmpError> {
    let patch_items = normalize_slice_order(patch_items, patch_order, merge_key, kind)?;
    let server_only = normalize_slice_order(server_only, server_order, merge_key, kind)?;
    Ok(merge_sorted(
        server_only,
        patch_items,
        server_order,
        merge_key,
        kind,
    ))
}

/// `normalizeSliceOrder`: a stable sort by position in `order` (Go's comparator calls an
/// item that `order` lacks "less"), with `$patch: delete` elements moved to the end.
fn normalize_slice_order(
    to_sort: Vec<Value>,
    order: &[Value],
    merge_key: &str,
    kind: GoType,
) -> Result<Vec<Value>, SmpError> {
    let (mut items, deletes) = match kind {
        GoType::Map => {
            validate_merge_keys(merge_key, &[&to_sort, order])?;
            split_deletes(to_sort)?
        }
        _ => (to_sort, Vec::new()),
    };
    // Go's sort.SliceStable is an insertion sort for up to 20 items; the same steps here.
    let mut pos: Vec<Option<usize>> = items
        .iter()
        .map(|v| index(order, v, merge_key, kind))
        .collect();
    for i in 1..items.len() {
        let mut j = i;
        while j > 0 && less(pos[j], pos[j - 1]) {
            items.swap(j, j - 1);
            pos.swap(j, j - 1);
            j -= 1;
        }
    }
    items.extend(deletes);
    Ok(items)
}

fn less(a: Option<usize>, b: Option<usize>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => a < b,
        _ => true,
    }
}

/// `mergeSortedSlice`: interleaves the sorted server-only items (`left`) into the sorted
/// patch items (`right`); a server-only item goes first when the current list had it before
/// the patch item.
fn merge_sorted(
    left: Vec<Value>,
    right: Vec<Value>,
    server_order: &[Value],
    merge_key: &str,
    kind: GoType,
) -> Vec<Value> {
    let mut out = Vec::with_capacity(left.len() + right.len());
    let mut left = left.into_iter().peekable();
    let mut right = right.into_iter().peekable();
    loop {
        let take_left = match (left.peek(), right.peek()) {
            (None, None) => break,
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (Some(l), Some(r)) => matches!(
                (index(server_order, l, merge_key, kind), index(server_order, r, merge_key, kind)),
                (Some(li), Some(ri)) if li < ri
            ),
        };
        out.extend(if take_left { left.next() } else { right.next() });
    }
    out
}

/// `index`: the position in `list` of the element with `item`'s merge key (of `item` itself
/// for scalars).
fn index(list: &[Value], item: &Value, merge_key: &str, kind: GoType) -> Option<usize> {
    let wanted = key_of(item, merge_key, kind);
    list.iter()
        .position(|v| key_of(v, merge_key, kind) == wanted)
}

/// What `index` compares: the merge key's value (nil when absent) for objects, the item
/// itself for scalars.
fn key_of<'a>(item: &'a Value, merge_key: &str, kind: GoType) -> &'a Value {
    match kind {
        GoType::Map => item
            .as_object()
            .and_then(|m| m.get(merge_key))
            .unwrap_or(&NIL),
        _ => item,
    }
}

/// `validateMergeKeyInLists`.
fn validate_merge_keys(merge_key: &str, lists: &[&[Value]]) -> Result<(), SmpError> {
    for item in lists.iter().flat_map(|l| l.iter()) {
        let Value::Object(m) = item else {
            return Err(SmpError::bad_arg_type(GoType::Map, item));
        };
        if !m.contains_key(merge_key) {
            return Err(SmpError::no_merge_key(item, merge_key));
        }
    }
    Ok(())
}

/// `extractToDeleteItems`: the elements to keep, then those with `$patch: delete`.
fn split_deletes(list: Vec<Value>) -> Result<(Vec<Value>, Vec<Value>), SmpError> {
    let (mut keep, mut delete) = (Vec::new(), Vec::new());
    for v in list {
        let Value::Object(m) = &v else {
            return Err(SmpError::bad_arg_type(GoType::Map, &v));
        };
        match m.get(DIRECTIVE).and_then(Value::as_str) == Some(DELETE) {
            true => delete.push(v),
            false => keep.push(v),
        }
    }
    Ok((keep, delete))
}

/// `validatePatchWithSetOrderList`: the patch's elements (but deletions and other
/// directives) must appear in `$setElementOrder`, in its order.
pub(super) fn validate_against_order(
    patch: &[Value],
    order: &[Value],
    merge_key: &str,
) -> Result<(), SmpError> {
    if order.is_empty() || patch.is_empty() {
        return Ok(());
    }
    let plain = match merge_key.is_empty() {
        true => patch.to_vec(),
        false => split_deletes(patch.to_vec())?.0,
    };
    let (mut p, mut o) = (0, 0);
    while p < plain.len() && o < order.len() {
        if plain[p]
            .as_object()
            .is_some_and(|m| m.contains_key(DIRECTIVE))
        {
            p += 1;
            continue;
        }
        if merge_key_value_equal(&plain[p], &order[o], merge_key)? {
            p += 1;
        }
        o += 1;
    }
    if p < plain.len() && o >= order.len() {
        return Err(SmpError(format!(
            "The order in patch list:\n{}\n doesn't match $setElementOrder list:\n{}\n",
            go::v(&Value::Array(patch.to_vec())),
            go::v(&Value::Array(order.to_vec()))
        )));
    }
    Ok(())
}

/// `mergeKeyValueEqual`.
fn merge_key_value_equal(left: &Value, right: &Value, merge_key: &str) -> Result<bool, SmpError> {
    if merge_key.is_empty() {
        return Ok(left == right);
    }
    let (Value::Object(l), Value::Object(r)) = (left, right) else {
        let bad = if left.is_object() { right } else { left };
        return Err(SmpError::bad_arg_type(GoType::Map, bad));
    };
    let l = l
        .get(merge_key)
        .ok_or_else(|| SmpError::no_merge_key(left, merge_key))?;
    let r = r
        .get(merge_key)
        .ok_or_else(|| SmpError::no_merge_key(right, merge_key))?;
    Ok(l == r)
}
