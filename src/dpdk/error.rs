//! Errors of the DPDK layer. Each message says what failed and, where there
//! is one, the likely fix.

use thiserror::Error;

/// Something the DPDK layer could not do.
#[derive(Debug, Error)]
pub enum DpdkError {
    /// `rte_eal_init` failed; `hint` says what to try.
    #[error("EAL initialisation failed ({reason}): {hint}")]
    EalInit {
        /// `rte_errno` after the failure.
        errno: i32,
        /// Its text.
        reason: String,
        /// The likely fix.
        hint: String,
    },
    /// The EAL can be initialised once per process.
    #[error("EAL initialisation failed: the EAL was already initialised in this process (DPDK allows it once)")]
    EalAlreadyInitialised,
    /// An EAL argument holds a NUL byte.
    #[error("EAL argument {0:?} contains a NUL byte")]
    BadArgument(String),
    /// No ethdev has this name.
    #[error("no DPDK port named '{name}': {hint}")]
    PortNotFound {
        /// The name looked up (`inside.device` / `outside.device`).
        name: String,
        /// How to make it exist.
        hint: String,
    },
    /// An ethdev call failed.
    #[error("port {port} ({name}): {op} failed: {reason}")]
    Port {
        /// DPDK port id.
        port: u16,
        /// Device name.
        name: String,
        /// What was being done (`configure`, `start`, `rx queue 0 setup`, ...).
        op: String,
        /// Why.
        reason: String,
    },
    /// Creating an mbuf pool failed.
    #[error("mempool '{name}': {reason}")]
    Mempool {
        /// Pool name.
        name: String,
        /// Why.
        reason: String,
    },
    /// Creating an mbuf ring failed.
    #[error("ring '{name}': {reason}")]
    Ring {
        /// Ring name.
        name: String,
        /// Why.
        reason: String,
    },
    /// Probing a virtual device at run time (`rte_dev_probe`) failed.
    #[error("cannot create DPDK device '{devargs}': {reason}")]
    Probe {
        /// The device string given (`net_tap3,iface=n64-in,...`).
        devargs: String,
        /// The errno of the failed call (`EEXIST`: the name is taken), 0 if
        /// the failure was not a DPDK call.
        errno: i32,
        /// Why, with the likely fix.
        reason: String,
    },
    /// Launching or joining an lcore failed.
    #[error("lcore {lcore}: {reason}")]
    Lcore {
        /// The lcore id.
        lcore: u32,
        /// Why.
        reason: String,
    },
}

impl DpdkError {
    /// The error for a failed `rte_eal_init`, with a hint chosen from
    /// `rte_errno` and the arguments given.
    pub(crate) fn eal_init(errno: i32, args: &[String], is_root: bool) -> DpdkError {
        let no_huge = args.iter().any(|a| a == "--no-huge");
        let hint = match errno {
            libc::EALREADY => {
                return DpdkError::EalAlreadyInitialised;
            }
            libc::EACCES if !is_root => {
                "permission denied: run as root (DPDK needs hugepages and device access)".to_string()
            }
            libc::EACCES | libc::ENOMEM if !no_huge => {
                "no usable hugepages: run scripts/setup.sh or pass --no-huge -m 512".to_string()
            }
            libc::ENOMEM => "not enough memory for -m: lower it (e.g. -m 512)".to_string(),
            libc::EINVAL => {
                "invalid EAL options (see the EAL message above; `nat64-dpdk --help` lists them)"
                    .to_string()
            }
            libc::ENODEV => "a --vdev or -a device is unknown or malformed (see the EAL message above); \
                 vdev names start with their driver: net_tap0, net_ring0, net_null0, net_pcap0, net_memif0"
                .to_string(),
            _ if !is_root => "see the EAL messages above; DPDK usually needs root".to_string(),
            // EAL leaves rte_errno unset when its runtime-config lock is held.
            _ => "see the EAL messages above (\"Is another primary process running?\" means another \
                  DPDK process uses this --file-prefix: give each process its own)"
                .to_string(),
        };
        let reason = if errno == 0 {
            "no rte_errno given".to_string()
        } else {
            super::strerror(errno)
        };
        DpdkError::EalInit {
            errno,
            reason,
            hint,
        }
    }

    /// The error for a device name no port has.
    pub(crate) fn port_not_found(name: &str) -> DpdkError {
        let looks_pci = name.contains(':') && name.contains('.');
        let hint = if looks_pci {
            format!(
                "bind the PCI device {name} to vfio-pci (dpdk-devbind.py -b vfio-pci {name}) and do not pass --no-pci"
            )
        } else {
            format!(
                "add --vdev {name} or bind the PCI device (if --vdev {name} was given, its driver failed to start: see the EAL messages above)"
            )
        };
        DpdkError::PortNotFound {
            name: name.to_string(),
            hint,
        }
    }
}

#[cfg(test)]
mod tests;
