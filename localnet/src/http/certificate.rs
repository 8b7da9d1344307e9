//! Certificates: a labeled state tree of just the values a response must reveal, turned into an
//! `ic-certification` hash tree and signed by the root key.
//!
//! The IC prunes one big state tree down to the requested paths. localnet instead builds the
//! revealed part directly: the client cannot tell the difference, because a hash tree with no
//! pruned nodes proves both the presence of what it holds and the absence of everything else
//! (a lookup of a missing label between revealed neighbours is `Absent`, never `Unknown`).

use super::keys::Keys;
use ic_certification::hash_tree::{self, HashTree};
use std::collections::BTreeMap;

/// A node of the labeled state tree.
#[derive(Clone, Debug)]
pub(crate) enum Node {
    Leaf(Vec<u8>),
    Sub(BTreeMap<Vec<u8>, Node>),
}

/// The labeled tree a certificate reveals. Labels sort as bytes, as the IC requires.
#[derive(Clone, Debug, Default)]
pub(crate) struct StateTree {
    root: BTreeMap<Vec<u8>, Node>,
}

impl StateTree {
    /// Puts `value` at `path`, creating the subtrees on the way (a leaf on the way is replaced).
    pub(crate) fn insert(&mut self, path: &[&[u8]], value: Vec<u8>) {
        let (last, parents) = path.split_last().expect("a non-empty path");
        let mut map = &mut self.root;
        for label in parents {
            let node = map
                .entry(label.to_vec())
                .or_insert_with(|| Node::Sub(BTreeMap::new()));
            if let Node::Leaf(_) = node {
                *node = Node::Sub(BTreeMap::new());
            }
            let Node::Sub(sub) = node else {
                unreachable!("just made a subtree")
            };
            map = sub;
        }
        map.insert(last.to_vec(), Node::Leaf(value));
    }

    /// The hash tree revealing everything in this tree.
    pub(crate) fn to_hash_tree(&self) -> HashTree<Vec<u8>> {
        forks(&self.root)
    }
}

/// A balanced fork tree over the labeled children, in label order.
fn forks(map: &BTreeMap<Vec<u8>, Node>) -> HashTree<Vec<u8>> {
    let labeled: Vec<HashTree<Vec<u8>>> = map
        .iter()
        .map(|(label, node)| {
            let sub = match node {
                Node::Leaf(value) => hash_tree::leaf(value.clone()),
                Node::Sub(children) => forks(children),
            };
            hash_tree::label(label.clone(), sub)
        })
        .collect();
    balanced(labeled)
}

fn balanced(mut nodes: Vec<HashTree<Vec<u8>>>) -> HashTree<Vec<u8>> {
    match nodes.len() {
        0 => hash_tree::empty(),
        1 => nodes.pop().expect("one"),
        n => {
            let right = nodes.split_off(n / 2);
            hash_tree::fork(balanced(nodes), balanced(right))
        }
    }
}

/// Encodes a value as the replica does: CBOR with the self-describe tag (55799).
pub(crate) fn to_cbor<T: serde::Serialize>(value: &T) -> Vec<u8> {
    let mut ser = serde_cbor::Serializer::new(Vec::with_capacity(256));
    ser.self_describe().expect("writing to a Vec");
    value.serialize(&mut ser).expect("CBOR encoding");
    ser.into_inner()
}

/// A signed certificate over `tree`, CBOR-encoded.
pub(crate) fn certify(keys: &Keys, tree: &StateTree) -> Vec<u8> {
    let tree = tree.to_hash_tree();
    let signature = keys.sign_state_root(&tree.digest());
    to_cbor(&ic_certification::Certificate {
        tree,
        signature,
        delegation: None,
    })
}

/// LEB128 of `n`: how the state tree encodes natural numbers (`/time`, reject codes).
pub(crate) fn leb128(mut n: u64) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let byte = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            out.push(byte);
            return out;
        }
        out.push(byte | 0x80);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ic_certification::hash_tree::LookupResult;

    #[test]
    fn a_revealed_tree_proves_presence_and_absence() {
        let mut t = StateTree::default();
        t.insert(&[b"time"], leb128(300));
        t.insert(
            &[b"request_status", &[1; 32], b"status"],
            b"replied".to_vec(),
        );
        t.insert(&[b"request_status", &[1; 32], b"reply"], b"DIDL".to_vec());
        let h = t.to_hash_tree();
        assert!(matches!(
            h.lookup_path([b"time".as_ref()]),
            LookupResult::Found(v) if v == [0xac, 0x02]
        ));
        assert!(matches!(
            h.lookup_path([b"request_status".as_ref(), &[1; 32], b"status"]),
            LookupResult::Found(b"replied")
        ));
        assert!(matches!(
            h.lookup_path([b"request_status".as_ref(), &[2; 32], b"status"]),
            LookupResult::Absent
        ));
        assert!(matches!(
            h.lookup_path([b"canister".as_ref()]),
            LookupResult::Absent
        ));
    }
}
