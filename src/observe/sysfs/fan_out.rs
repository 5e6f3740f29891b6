//! `fan_out`: reads many independent sysfs objects on a few threads.
//!
//! A snapshot of a host with thousands of paths is thousands of small,
//! independent directory reads, each a few syscalls that wait on nothing but
//! the kernel. Split over the machine's cores they finish in a fraction of
//! the time; each thread has its own `Scan` (its own open root and memory of
//! links), and the results come back in input order, so the snapshot is the
//! same as a sequential read.

use super::super::tree::Scan;

/// Below this many objects a second thread costs more than it saves.
const MIN_PER_THREAD: usize = 256;

/// At most this many threads, whatever the core count: the reads contend
/// in the kernel (dcache, the page cache) beyond a few.
const MAX_THREADS: usize = 4;

/// `read(scan, item)` for every item, in order, on up to `MAX_THREADS`
/// threads (one per core, at least `MIN_PER_THREAD` items each).
pub(super) fn fan_out<T, R>(
    scan: &Scan<'_>,
    items: Vec<T>,
    read: impl Fn(&Scan<'_>, T) -> R + Sync,
) -> Vec<R>
where
    T: Send,
    R: Send,
{
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let threads = cores
        .min(MAX_THREADS)
        .min(items.len() / MIN_PER_THREAD)
        .max(1);
    if threads == 1 {
        return items.into_iter().map(|item| read(scan, item)).collect();
    }
    let per = items.len().div_ceil(threads);
    let mut chunks: Vec<Vec<T>> = Vec::with_capacity(threads);
    let mut items = items.into_iter();
    loop {
        let chunk: Vec<T> = items.by_ref().take(per).collect();
        if chunk.is_empty() {
            break;
        }
        chunks.push(chunk);
    }
    let read = &read;
    let fork = scan.fork();
    std::thread::scope(|s| {
        let handles: Vec<_> = chunks
            .into_iter()
            .map(|chunk| {
                s.spawn(move || {
                    let own = fork.scan();
                    chunk
                        .into_iter()
                        .map(|item| read(&own, item))
                        .collect::<Vec<R>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
            .collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::observe::tree::Tree;

    #[test]
    fn results_keep_input_order_across_threads() {
        let t = tempfile::tempdir().unwrap();
        let tree = Tree::new(t.path());
        let scan = tree.scan();
        let items: Vec<usize> = (0..5_000).collect();
        let out = fan_out(&scan, items.clone(), |_, i| i * 2);
        assert_eq!(out, items.iter().map(|i| i * 2).collect::<Vec<_>>());
        assert!(fan_out(&scan, Vec::<usize>::new(), |_, i| i).is_empty());
    }
}
