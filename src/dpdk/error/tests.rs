use super::*;

#[test]
fn port_not_found_names_the_fix() {
    let vdev = DpdkError::port_not_found("net_tap5").to_string();
    assert!(
        vdev.starts_with(
            "no DPDK port named 'net_tap5': add --vdev net_tap5 or bind the PCI device"
        ),
        "{vdev}"
    );
    let pci = DpdkError::port_not_found("0000:03:00.0").to_string();
    assert!(
        pci.contains("dpdk-devbind.py -b vfio-pci 0000:03:00.0"),
        "{pci}"
    );
}

#[test]
fn eal_init_hints() {
    let no_huge = ["prog".to_string(), "--no-huge".to_string()];
    let huge = ["prog".to_string()];
    let m = DpdkError::eal_init(libc::ENOMEM, &huge, true).to_string();
    assert!(
        m.contains("run scripts/setup.sh or pass --no-huge -m 512"),
        "{m}"
    );
    let m = DpdkError::eal_init(libc::EACCES, &huge, false).to_string();
    assert!(m.contains("run as root"), "{m}");
    let m = DpdkError::eal_init(libc::ENOMEM, &no_huge, true).to_string();
    assert!(m.contains("-m 512"), "{m}");
    assert!(matches!(
        DpdkError::eal_init(libc::EALREADY, &huge, true),
        DpdkError::EalAlreadyInitialised
    ));
}
