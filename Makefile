# streamdelta - build, test, fuzz, bench.
#
#   make             build build/streamdelta (installs Debian packages if missing)
#   make test        unit + end-to-end tests (pytest drives both)
#   make test-asan   the same suite against an ASan+UBSan build (build-asan/)
#   make fuzz-ci     every libFuzzer harness for FUZZ_SECONDS (default 60)
#   make test-all    all three, ending with one "N passed, N failed" line
#   make bench       benchmarks beside their references (not tests)

BUILD    ?= build
SAN      ?=
CC       ?= cc
OPT      ?= -O2
PKGS      = libsnappy libzstd liblz4 zlib
CFLAGS_COMMON = -std=gnu11 $(OPT) -g -Wall -Wextra -Werror -Wshadow -Wno-missing-field-initializers \
                -D_GNU_SOURCE -Isrc -MMD -MP -fno-strict-aliasing
ifeq ($(SAN),1)
CFLAGS_COMMON += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
LDSAN          = -fsanitize=address,undefined
endif
CFLAGS  ?=
LDLIBS   = -lrdkafka -lmicrohttpd -lcurl -lsnappy -lzstd -llz4 -lz -lm -lpthread

LIB_SRC  = $(sort $(wildcard src/util/*.c src/parquet/*.c src/delta/*.c src/avro/*.c \
                             src/kafka/*.c src/pipeline/*.c))
CLI_SRC  = $(sort $(wildcard src/cli/*.c))
UNIT_SRC = $(sort $(wildcard tests/unit/*.c))
FUZZ_SRC = $(sort $(wildcard tests/fuzz/fuzz_*.c))

LIB_OBJ  = $(LIB_SRC:%.c=$(BUILD)/obj/%.o)
CLI_OBJ  = $(CLI_SRC:%.c=$(BUILD)/obj/%.o)
UNIT_OBJ = $(UNIT_SRC:%.c=$(BUILD)/obj/%.o)

DEPS_STAMP = .cache/deps-ok

.PHONY: all unit test test-asan fuzz fuzz-ci test-all bench format clean deps demo

all: $(BUILD)/streamdelta $(BUILD)/unit_tests $(BUILD)/pq_gen $(BUILD)/delta_gen $(BUILD)/freshness

unit: $(BUILD)/unit_tests

# Install the Debian packages the build needs when any is missing. The
# script is idempotent; the stamp only saves the dpkg queries next time.
$(DEPS_STAMP): scripts/install-deps.sh
	@bash scripts/install-deps.sh
	@mkdir -p $(dir $@) && touch $@

deps:
	@bash scripts/install-deps.sh

$(BUILD)/obj/%.o: %.c $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_COMMON) $(CFLAGS) -c $< -o $@

$(BUILD)/libstreamdelta.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/streamdelta: $(CLI_OBJ) $(BUILD)/libstreamdelta.a
	$(CC) $(LDSAN) -o $@ $(CLI_OBJ) $(BUILD)/libstreamdelta.a $(LDLIBS)

$(BUILD)/unit_tests: $(UNIT_OBJ) $(BUILD)/libstreamdelta.a
	$(CC) $(LDSAN) -o $@ $(UNIT_OBJ) $(BUILD)/libstreamdelta.a $(LDLIBS)

# Writes the Parquet files (and their expected rows) of tests/e2e/test_parquet_writer.py.
$(BUILD)/pq_gen: tests/tools/pq_gen.c $(BUILD)/libstreamdelta.a
	$(CC) $(CFLAGS_COMMON) $(CFLAGS) $(LDSAN) -o $@ $< $(BUILD)/libstreamdelta.a $(LDLIBS)

# Writes the Delta tables of tests/e2e/test_delta_tables.py (and prints what it wrote).
$(BUILD)/delta_gen: tests/tools/delta_gen.c $(BUILD)/libstreamdelta.a
	$(CC) $(CFLAGS_COMMON) $(CFLAGS) $(LDSAN) -o $@ $< $(BUILD)/libstreamdelta.a $(LDLIBS)

# avro-c (-lavro) is linked into this benchmark only, never the library.
$(BUILD)/avro_bench: bench/avro_bench.c $(BUILD)/libstreamdelta.a
	$(CC) $(CFLAGS_COMMON) $(CFLAGS) $(LDSAN) -o $@ $< $(BUILD)/libstreamdelta.a $(LDLIBS) -lavro

$(BUILD)/pq_bench: bench/pq_bench.c $(BUILD)/libstreamdelta.a
	$(CC) $(CFLAGS_COMMON) $(CFLAGS) $(LDSAN) -o $@ $< $(BUILD)/libstreamdelta.a $(LDLIBS)

# Writes the many-small-files table of the OPTIMIZE benchmark.
$(BUILD)/maint_bench: bench/maint_bench.c $(BUILD)/libstreamdelta.a
	$(CC) $(CFLAGS_COMMON) $(CFLAGS) $(LDSAN) -o $@ $< $(BUILD)/libstreamdelta.a $(LDLIBS)

# Writes the tables of the Delta benchmark and times the snapshot load.
$(BUILD)/delta_bench: bench/delta_bench.c $(BUILD)/libstreamdelta.a
	$(CC) $(CFLAGS_COMMON) $(CFLAGS) $(LDSAN) -o $@ $< $(BUILD)/libstreamdelta.a $(LDLIBS)

# The freshness benchmark's observer: raw librdkafka consumer and _delta_log poller.
$(BUILD)/freshness: bench/freshness.c $(BUILD)/libstreamdelta.a
	$(CC) $(CFLAGS_COMMON) $(CFLAGS) $(LDSAN) -o $@ $< $(BUILD)/libstreamdelta.a $(LDLIBS)

test: all
	@bash scripts/run-tests.sh $(BUILD)

test-asan:
	@$(MAKE) --no-print-directory BUILD=build-asan SAN=1 OPT=-O1 all
	@bash scripts/run-tests.sh build-asan

# libFuzzer needs clang; the harnesses link the library built with the same
# compiler and sanitizers so every parser is instrumented.
FUZZ_CFLAGS = -std=gnu11 -O1 -g -D_GNU_SOURCE -Isrc -fsanitize=fuzzer,address,undefined \
              -fno-sanitize-recover=undefined
FUZZ_LIB_SRC = $(LIB_SRC)
build-fuzz/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZ_LIB_SRC) $(DEPS_STAMP)
	@mkdir -p build-fuzz
	clang $(FUZZ_CFLAGS) -o $@ $< $(FUZZ_LIB_SRC) $(LDLIBS)

fuzz: $(FUZZ_SRC:tests/fuzz/%.c=build-fuzz/%)

FUZZ_SECONDS ?= 60
fuzz-ci: fuzz
	@bash scripts/run-fuzz.sh $(FUZZ_SECONDS)

test-all:
	@bash scripts/test-all.sh

bench: all
	@bash bench/run.sh

# The whole pipeline in one process (embedded Kafka and registry, a producer,
# the stream) for 20 s, then the command's help, a committed sample file (DuckDB-written, every
# type) through parquet schema/cat, and a round trip: files our writer makes
# (pq_gen) read back by our reader.
DEMO_SAMPLE = tests/fuzz/corpus/fuzz_parquet/duckdb-v1-gzip.parquet
demo: all
	rm -rf $(BUILD)/demo/movie_ratings
	./$(BUILD)/streamdelta demo --seconds 20 --table $(BUILD)/demo/movie_ratings
	./$(BUILD)/streamdelta --help
	./$(BUILD)/streamdelta parquet schema $(DEMO_SAMPLE)
	./$(BUILD)/streamdelta parquet cat $(DEMO_SAMPLE) --limit 5
	@mkdir -p $(BUILD)/demo && ./$(BUILD)/pq_gen $(BUILD)/demo
	./$(BUILD)/streamdelta parquet meta $(BUILD)/demo/types-zstd-some-dict.parquet
	./$(BUILD)/streamdelta parquet cat $(BUILD)/demo/types-zstd-some-dict.parquet --limit 5 \
	    --columns c_int,c_double,c_dec18,c_string,c_ts
	./$(BUILD)/streamdelta parquet cat $(BUILD)/demo/nested.parquet --format jsonl --limit 3

# The replaced Spark job's Makefile targets, as streamdelta commands. Run
# kafka-up in one terminal; the others find its addresses by themselves.
TABLE  ?= tables/movie_ratings
TOPIC  ?= movie.ratings.v1
EVENTS ?= 100000
SD      = ./$(BUILD)/streamdelta

.PHONY: setup kafka-up kafka-create-topic kafka-produce-test-events create-sink-table \
        streaming-app-run show compact-small-files vacuum

setup: all

kafka-up: all
	$(SD) broker --topic $(TOPIC):6

kafka-create-topic: all
	$(SD) create-topic --topic $(TOPIC) --partitions 6 --if-not-exists

kafka-produce-test-events: all
	$(SD) produce --topic $(TOPIC) --count $(EVENTS) --duplicates 10% --updates 10% --late 5%

create-sink-table: all
	@if [ -d $(TABLE)/_delta_log ]; then echo "$(TABLE) exists"; else $(SD) create-table $(TABLE); fi

streaming-app-run: all
	$(SD) run --table $(TABLE) --topic $(TOPIC)

show: all
	$(SD) show $(TABLE)

compact-small-files: all
	$(SD) optimize $(TABLE)

vacuum: all
	$(SD) vacuum $(TABLE) --retain 168h

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf build build-asan build-fuzz

-include $(LIB_OBJ:.o=.d) $(CLI_OBJ:.o=.d) $(UNIT_OBJ:.o=.d)
