//! A vector whose elements are kept when it is cleared, so their own buffers can be reused.
//!
//! Clearing a `Vec<String>` frees every string; clearing a [`Recycle<String>`] only forgets how
//! many are in use, and the next `push` hands back an old string, emptied, with its capacity.
//! This is what lets a segment tree be rebuilt for every invocation without allocating once it
//! has reached its usual shape.

/// Values that can be emptied in place, keeping their allocations.
pub(crate) trait Reset: Default {
    fn reset(&mut self);
}

impl Reset for String {
    fn reset(&mut self) {
        self.clear();
    }
}

impl<T> Reset for Vec<T> {
    fn reset(&mut self) {
        self.clear();
    }
}

#[derive(Debug)]
pub(crate) struct Recycle<T> {
    items: Vec<T>,
    len: usize,
}

impl<T> Default for Recycle<T> {
    fn default() -> Self {
        Recycle {
            items: Vec::new(),
            len: 0,
        }
    }
}

impl<T: Reset> Recycle<T> {
    /// Appends an element (an old one, emptied, when available) and returns it.
    pub(crate) fn push(&mut self) -> &mut T {
        if self.len < self.items.len() {
            self.items[self.len].reset();
        } else {
            self.items.push(T::default());
        }
        self.len += 1;
        &mut self.items[self.len - 1]
    }

    /// Forgets the last element (kept for reuse, like `clear`).
    pub(crate) fn pop(&mut self) {
        self.len = self.len.saturating_sub(1);
    }

    pub(crate) fn clear(&mut self) {
        self.len = 0;
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub(crate) fn as_slice(&self) -> &[T] {
        &self.items[..self.len]
    }

    pub(crate) fn as_mut_slice(&mut self) -> &mut [T] {
        &mut self.items[..self.len]
    }

    pub(crate) fn get(&self, i: usize) -> Option<&T> {
        self.as_slice().get(i)
    }

    pub(crate) fn get_mut(&mut self, i: usize) -> Option<&mut T> {
        self.as_mut_slice().get_mut(i)
    }

    pub(crate) fn iter(&self) -> std::slice::Iter<'_, T> {
        self.as_slice().iter()
    }

    /// Applies `f` to every stored element, in use or spare.
    pub(crate) fn for_each_stored(&mut self, f: impl FnMut(&mut T)) {
        self.items.iter_mut().for_each(f);
    }

    /// Elements stored, in use or spare.
    #[cfg(test)]
    pub(crate) fn stored_len(&self) -> usize {
        self.items.len()
    }

    /// Drops spare elements beyond `keep` so one huge invocation does not pin memory forever.
    pub(crate) fn shrink_spare(&mut self, keep: usize) {
        let keep = keep.max(self.len);
        if self.items.len() > keep {
            self.items.truncate(keep);
            self.items.shrink_to(keep);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reuses_elements_and_their_capacity() {
        let mut r: Recycle<String> = Recycle::default();
        r.push().push_str("hello world, long enough");
        r.push().push_str("second");
        let cap = r.as_slice()[0].capacity();
        r.clear();
        assert!(r.is_empty());
        let s = r.push();
        assert!(s.is_empty());
        assert_eq!(s.capacity(), cap);
        assert_eq!(r.len(), 1);
        r.clear();
        assert_eq!(r.iter().count(), 0);
        r.shrink_spare(0);
        assert_eq!(r.items.len(), 0);
    }
}
