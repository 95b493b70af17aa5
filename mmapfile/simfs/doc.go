// Package simfs is a simulated mmapfile.FS that can lose power, for crash
// tests: every file has the image the program sees and the image on the
// device, and a crash builds a new FS from the device images, settling
// whatever was not synced the way a power cut may.
//
//	program ── Bytes() stores, WriteAt ──►  live image     (page cache)
//	                                          │   │ page p dirty ⇔ live[p] differs
//	                                          │   │ from what the cache believes
//	                 Sync(off, n): dirty pages│   │ is on the device
//	                 covering the range ──────┘   │
//	                 flusher (Config.WriteBack): ─┘ one random dirty page, any time
//	                                          ▼
//	                                        durable image  (device)
//
//	directory:  live names ── SyncDir ──► durable names
//	            (Create, Rename, Remove change live names at once)
//
//	Crash(rng, r):  new FS = durable names, with each pending directory
//	                change kept or reverted, and for each of their files
//	                the durable image with each dirty page old, new or
//	                torn (512-byte sectors, or a byte prefix)
//
// Pages are 4096 bytes. Dirtiness is found by comparing the images, since
// the program stores through Bytes without telling the FS; the simulator
// reads live images without the race detector seeing it, like the kernel
// (racefree.go), so tests stay -race clean while engine goroutines store.
//
// # Faults
//
//   - Crash, Freeze and FreezeAfter(k) cut the power; the old FS and its
//     files then fail every call with ErrCrashed, so goroutines still
//     running stop cleanly, and their stores are discarded.
//   - FailNth(op, k) fails the k-th call of an operation from now: ENOSPC
//     for Create, Rename and WriteAt, EIO otherwise. A failed Sync leaves
//     its pages durable, lost or torn and marks them clean, as Linux does:
//     a retried Sync reports success without writing them (fsyncgate).
//   - Corrupt damages a device image: a bit flip, a zeroed or a random
//     512-byte sector, a page overwritten with another page's content (a
//     misdirected write), or a page put back to what it held before its
//     last write reached the device (a dropped write; the FS remembers
//     that per page, also across Crash).
//   - FaultPage makes a page fault when the program touches it through
//     Bytes, as a page the device cannot read back does (SIGBUS), for files
//     created with Config.Faultable (Linux: their images are a memfd
//     mapped twice, so simfs still reads the page). mmapfile.Guard names
//     the file and offset where FaultsAttributed says the machine reports
//     fault addresses (not every qemu-user target does).
//
// Every random choice comes from the FS's seed or from the rng given to
// Crash, so the same sequence of calls gives the same states. Create's
// size and zeros are durable at once (the real FS syncs them before
// returning); its name is not, until SyncDir.
package simfs
