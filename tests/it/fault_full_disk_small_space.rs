//! Regression test. On a 64 MiB volume, freeing 32 MiB (twice the largest memtable lokid
//! configures) did not bring writes back: RocksDB logs "free space [46456832 bytes] is less than required disk
//! buffer [67108864 bytes] / Cannot clear hard error" every 5 s and pushes stayed 503 until
//! lokid was restarted. dbd0dd1 sets `db_opts.set_write_buffer_size(1 << 20)` for the unused
//! `default` column family, but `DB::open_cf_descriptors` (rocksdb-0.25.0 src/db.rs:661)
//! adds the missing `default` family with `Options::default()` — 64 MiB — so the reserved
//! buffer stays 64 MiB. Passing an explicit `ColumnFamilyDescriptor::new("default", …)` with
//! a small buffer fixes it.

use crate::harness::disk::{run, Scenario};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_resume_when_32_mib_are_freed_on_a_64_mib_volume() {
    run(Scenario { fs_mib: 64, filler_mib: 32, restart_while_full: false }).await;
}
