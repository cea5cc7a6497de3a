# Chunk codec fuzz target (owner: tsdb chunk codecs).
fuzz_target(fuzz_chunk_decode LIBS tsdb)
