use super::*;

#[test]
fn large_blocks_are_huge_page_aligned_zeroed_and_reallocated() {
    let a = HugeAlloc;
    let l = Layout::from_size_align(3 * HUGE_PAGE + 5, 8).unwrap();
    // SAFETY: non-zero sizes; every block is freed with its layout.
    unsafe {
        let p = a.alloc_zeroed(l);
        assert!(!p.is_null());
        assert_eq!(p as usize % HUGE_PAGE, 0);
        let s = std::slice::from_raw_parts_mut(p, l.size());
        assert!(s.iter().all(|&b| b == 0));
        s[l.size() - 1] = 7;
        // Grow, then shrink below the threshold: contents survive.
        let q = a.realloc(p, l, 5 * HUGE_PAGE);
        assert_eq!(*q.add(l.size() - 1), 7);
        let l2 = Layout::from_size_align(5 * HUGE_PAGE, 8).unwrap();
        *q = 9;
        let r = a.realloc(q, l2, 64);
        assert_eq!(*r, 9);
        a.dealloc(r, Layout::from_size_align(64, 8).unwrap());
        let small = Layout::from_size_align(100, 16).unwrap();
        let p = a.alloc(small);
        assert!(!p.is_null());
        a.dealloc(p, small);
    }
}
