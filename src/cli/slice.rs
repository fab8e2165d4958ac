//! Short time slices for signalbox's own threads.
//!
//! Between two steps of a chain the engine's threads do a few microseconds of
//! work each: reap the exit, journal it, wait for the sync, spawn the next
//! step. Each of those wake-ups can land on a CPU that a step's process is
//! using, and with the default slice the kernel lets that process run on
//! before the woken thread gets the CPU. Asking for the shortest slice (Linux
//! 6.12's EEVDF custom slices) lets the engine's threads go first; they use
//! little CPU, so nothing else loses. Steps keep the default:
//! `SCHED_RESET_ON_FORK` puts every process started from these threads back
//! on the defaults, so a step never runs with the engine's slice.
//!
//! Best effort: an older kernel ignores the slice, and a refusal is logged
//! and changes nothing else.

/// The shortest slice the kernel accepts for a normal thread (100 µs).
const SLICE_NS: u64 = 100_000;

/// Asks for the short slice on the calling thread, when it runs under the
/// normal policy; its nice value and anything else set on it stay as they are.
#[cfg(target_os = "linux")]
pub fn request() {
    /// `struct sched_attr` as `SCHED_ATTR_SIZE_VER0` lays it out.
    #[repr(C)]
    #[derive(Default)]
    struct SchedAttr {
        size: u32,
        sched_policy: u32,
        sched_flags: u64,
        sched_nice: i32,
        sched_priority: u32,
        sched_runtime: u64,
        sched_deadline: u64,
        sched_period: u64,
    }
    const SCHED_OTHER: u32 = 0;
    const SCHED_FLAG_RESET_ON_FORK: u64 = 0x01;
    const SIZE: u32 = std::mem::size_of::<SchedAttr>() as u32;
    let mut attr = SchedAttr::default();
    // SAFETY: sched_getattr(2) on the calling thread (pid 0) writes at most
    // `SIZE` bytes into `attr`, a live `repr(C)` value of that size.
    #[allow(unsafe_code)]
    let rc = unsafe {
        libc::syscall(
            libc::SYS_sched_getattr,
            0,
            &mut attr as *mut SchedAttr,
            SIZE,
            0u32,
        )
    };
    if rc != 0 || attr.sched_policy != SCHED_OTHER {
        return;
    }
    attr.size = SIZE;
    attr.sched_flags |= SCHED_FLAG_RESET_ON_FORK;
    attr.sched_runtime = SLICE_NS;
    // SAFETY: sched_setattr(2) on the calling thread reads `attr.size`
    // bytes from `attr`, a live, fully initialised `repr(C)` value of that
    // size, and writes nothing.
    #[allow(unsafe_code)]
    let rc = unsafe { libc::syscall(libc::SYS_sched_setattr, 0, &attr as *const SchedAttr, 0u32) };
    if rc != 0 {
        tracing::debug!(
            "cannot ask for a short time slice: {}",
            std::io::Error::last_os_error()
        );
    }
}

#[cfg(not(target_os = "linux"))]
pub fn request() {}
