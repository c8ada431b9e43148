//! What earlier renders learned about store paths (a layer's digest, the
//! closure of some roots), by key, and what this render used of it: store
//! paths never change, so a fact learned once holds; saving only what was
//! used keeps a record from growing with every render.

use std::collections::{BTreeMap, HashMap};
use std::hash::Hash;

#[derive(Debug)]
pub(super) struct Learned<K, V> {
    known: HashMap<K, V>,
    used: BTreeMap<K, V>,
}

impl<K, V> Default for Learned<K, V> {
    fn default() -> Self {
        Learned { known: HashMap::new(), used: BTreeMap::new() }
    }
}

impl<K: Hash + Ord + Clone, V: Clone> Learned<K, V> {
    /// What was learned of `key`, noted as used.
    pub fn get<Q: Hash + Eq + ToOwned<Owned = K> + ?Sized>(&mut self, key: &Q) -> Option<V>
    where
        K: std::borrow::Borrow<Q>,
    {
        let value = self.known.get(key)?.clone();
        self.used.insert(key.to_owned(), value.clone());
        Some(value)
    }

    /// Learned now, and used.
    pub fn record<Q: ToOwned<Owned = K> + ?Sized>(&mut self, key: &Q, value: V) {
        self.known.insert(key.to_owned(), value.clone());
        self.used.insert(key.to_owned(), value);
    }

    /// Learned by an earlier render (what this one learns wins).
    pub fn add(&mut self, learned: impl IntoIterator<Item = (K, V)>) {
        for (key, value) in learned {
            self.known.entry(key).or_insert(value);
        }
    }

    /// What this render used, to save.
    pub fn used(&self) -> &BTreeMap<K, V> {
        &self.used
    }
}
