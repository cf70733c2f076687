fn main() {
    println!("nat64-dpdk: under construction");
}
