//! A minibatch's gradient summed over its chunks along one fixed binary
//! tree, so that a worker can sum a block of consecutive chunks itself
//! and hand over one sum, and the bits of the result still depend on the
//! minibatch alone, not on how many workers shared it.
//!
//! The tree over chunks `0..n` splits every node `lo..hi` at
//! `lo + ceil((hi - lo) / 2)`, the split `Plan::share` makes between two
//! workers: with the tutorial's 10 chunks on two workers, each worker's
//! five chunks are one node and it sends one sum. Chunks go in in order
//! (`push_leaf`); two neighbours that make up a node are added at once
//! (left += right). After a worker pushed chunks `a..b`, it holds the
//! nodes that make `a..b` up (`cover`), which another tree takes with
//! `push_node` to the same bits.

use std::ops::Range;

/// The partial sums of a minibatch's chunks, in chunk order.
#[derive(Debug, Default)]
pub struct GradTree {
    /// Chunks in the minibatch.
    chunks: usize,
    /// The chunk this tree's first sum starts at.
    first: usize,
    /// Complete nodes, left to right, none two of them siblings.
    nodes: Vec<(Range<usize>, Vec<f32>)>,
    /// Buffers of merged nodes, kept for the next (a step allocates nothing).
    spare: Vec<Vec<f32>>,
}

impl GradTree {
    /// Starts a minibatch of `chunks` chunks, dropping any partial sums.
    pub fn start(&mut self, chunks: usize) {
        self.start_at(chunks, 0);
    }

    /// Starts at chunk `first` of a minibatch of `chunks` chunks: a worker
    /// that sums a block of them.
    pub fn start_at(&mut self, chunks: usize, first: usize) {
        (self.chunks, self.first) = (chunks, first);
        self.spare.extend(self.nodes.drain(..).map(|(_, sum)| sum));
    }

    /// Chunks in the minibatch.
    pub fn chunks(&self) -> usize {
        self.chunks
    }

    /// The first chunk not in yet.
    pub fn next_chunk(&self) -> usize {
        self.nodes.last().map_or(self.first, |(range, _)| range.end)
    }

    /// Adds chunk `i`'s mean gradient over its `count` images as its part
    /// of a minibatch of `batch`, whose loss is the mean over its images.
    #[track_caller]
    pub fn push_chunk(&mut self, i: usize, grads: &[f32], count: usize, batch: usize) {
        self.push_leaf(i, grads, count as f32 / batch as f32);
    }

    /// Adds chunk `i`'s gradient times `share` (`i` must be `next_chunk`).
    #[track_caller]
    pub fn push_leaf(&mut self, i: usize, grads: &[f32], share: f32) {
        // A leaf whose left sibling is on top goes straight into it: the
        // bits of its own sum added there, without writing that sum out
        // and reading it back (a chunk's gradient is 1.7 MB).
        let sibling = self.nodes.last().is_some_and(|(left, _)| left.end == i && self.is_node(left.start..i + 1));
        if !sibling {
            return self.push_node(i..i + 1, grads.len(), |sum| sum.iter_mut().zip(grads).for_each(|(s, g)| *s = g * share));
        }
        let (left, l) = self.nodes.last_mut().expect("a sibling");
        assert_eq!(l.len(), grads.len(), "one gradient per parameter");
        l.iter_mut().zip(grads).for_each(|(l, g)| *l += g * share);
        left.end = i + 1;
        self.merge();
    }

    /// Adds the sum of chunks `range` (a node of the tree that starts at
    /// `next_chunk`), as `fill` writes it into a buffer of `len` floats.
    #[track_caller]
    pub fn push_node(&mut self, range: Range<usize>, len: usize, fill: impl FnOnce(&mut [f32])) {
        assert!(
            range.start == self.next_chunk() && self.is_node(range.clone()),
            "chunks {range:?} are not the next node of {}",
            self.chunks
        );
        let mut sum = self.spare.pop().unwrap_or_default();
        sum.resize(len, 0.0);
        fill(&mut sum);
        self.nodes.push((range, sum));
        self.merge();
    }

    /// Adds the nodes on top that make up a node (left += right), as
    /// long as there are any.
    fn merge(&mut self) {
        while let [.., (left, _), (right, _)] = &self.nodes[..] {
            if !self.is_node(left.start..right.end) {
                break;
            }
            let (right, r) = self.nodes.pop().expect("two nodes");
            let (left, l) = self.nodes.last_mut().expect("two nodes");
            assert_eq!(l.len(), r.len(), "one gradient per parameter");
            l.iter_mut().zip(&r).for_each(|(l, r)| *l += r);
            left.end = right.end;
            self.spare.push(r);
        }
    }

    /// The sums held, in chunk order: after chunks `a..b` went in, those
    /// of `cover(a..b)`.
    pub fn nodes(&self) -> impl Iterator<Item = (&Range<usize>, &[f32])> {
        self.nodes.iter().map(|(range, sum)| (range, sum.as_slice()))
    }

    /// The whole minibatch's gradient, once every chunk is in.
    pub fn total(&self) -> Option<&[f32]> {
        match &self.nodes[..] {
            [(range, sum)] if *range == (0..self.chunks) => Some(sum),
            _ => None,
        }
    }

    /// Whether chunks `start..end` are a node of the tree.
    fn is_node(&self, Range { start, end }: Range<usize>) -> bool {
        let (mut lo, mut hi) = (0, self.chunks);
        loop {
            if (lo, hi) == (start, end) {
                return true;
            }
            if hi - lo <= 1 {
                return false;
            }
            let mid = lo + (hi - lo).div_ceil(2);
            if end <= mid {
                hi = mid;
            } else if start >= mid {
                lo = mid;
            } else {
                return false;
            }
        }
    }

    /// The nodes that make chunks `range` up, left to right: what a tree
    /// holds once those chunks went in (as `push_leaf` merges them).
    pub fn cover(chunks: usize, range: Range<usize>) -> Vec<Range<usize>> {
        let tree = GradTree { chunks, ..GradTree::default() };
        let mut cover: Vec<Range<usize>> = Vec::new();
        for i in range {
            cover.push(i..i + 1);
            while let [.., left, right] = &cover[..] {
                let parent = left.start..right.end;
                if !tree.is_node(parent.clone()) {
                    break;
                }
                cover.truncate(cover.len() - 2);
                cover.push(parent);
            }
        }
        cover
    }
}
