// Settings of jemalloc, the allocator of every binary that links
// kvtier_allocator (the server's and the client tools).
// This file is compiled into each such executable (an INTERFACE source of
// kvtier_allocator), because jemalloc reads the `malloc_conf` symbol of the
// executable at its first allocation. MALLOC_CONF in the environment still
// overrides it.
//
// oversize_threshold:0: by default jemalloc serves every allocation of 8 MiB
// or more from a dedicated arena that hands the pages back to the kernel as
// soon as it is freed, so the next one faults all of its memory in again.
// Batched replies, values and read buffers here are routinely that large; a
// Get of 32 values of 256 KiB ran at a tenth of the speed of one of 16.
extern "C" {
// NOLINTNEXTLINE: the name and type are jemalloc's interface.
const char* malloc_conf = "oversize_threshold:0";
}
