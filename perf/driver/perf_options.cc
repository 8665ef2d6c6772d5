// Parsing of the *_perf command line (see perf_options.h). Sizes take K/M/G suffixes of
// 1024 like nccl-tests; types and ops take nccl-tests' names, a few aliases, or "all".
#include "perf_options.h"

#include <getopt.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace coll::perf {
namespace {

struct TypeEntry {
  coll_dtype_t type;
  const char* name;
  const char* alias;
};

constexpr TypeEntry kTypes[] = {
    {COLL_INT8, "int8", "char"},        {COLL_UINT8, "uint8", "u8"},
    {COLL_INT32, "int32", "int"},       {COLL_UINT32, "uint32", "u32"},
    {COLL_INT64, "int64", "long"},      {COLL_UINT64, "uint64", "u64"},
    {COLL_FLOAT16, "half", "float16"},  {COLL_FLOAT32, "float", "float32"},
    {COLL_FLOAT64, "double", "float64"}, {COLL_BFLOAT16, "bfloat16", "bf16"},
};

constexpr const char* kOps[] = {"sum", "prod", "min", "max", "avg"};

bool ParseBytes(const char* text, size_t* out) {
  char* end = nullptr;
  errno = 0;
  double value = std::strtod(text, &end);
  if (errno != 0 || end == text || value < 0) return false;
  double scale = 1;
  switch (*end) {
    case 'G': case 'g': scale = 1024.0 * 1024 * 1024; ++end; break;
    case 'M': case 'm': scale = 1024.0 * 1024; ++end; break;
    case 'K': case 'k': scale = 1024.0; ++end; break;
    default: break;
  }
  if (*end == 'B' || *end == 'b') ++end;
  if (*end != '\0') return false;
  *out = static_cast<size_t>(value * scale);
  return true;
}

bool ParseInt(const char* text, int minimum, int* out) {
  char* end = nullptr;
  long value = std::strtol(text, &end, 10);
  if (end == text || *end != '\0' || value < minimum || value > 1000000000) return false;
  *out = static_cast<int>(value);
  return true;
}

bool ParseTypes(const char* text, std::vector<coll_dtype_t>* out) {
  out->clear();
  for (const TypeEntry& entry : kTypes) {
    bool all = std::strcmp(text, "all") == 0;
    if (all || std::strcmp(text, entry.name) == 0 || std::strcmp(text, entry.alias) == 0)
      out->push_back(entry.type);
  }
  if (std::strcmp(text, "fp16") == 0) out->push_back(COLL_FLOAT16);
  if (std::strcmp(text, "fp32") == 0) out->push_back(COLL_FLOAT32);
  return !out->empty();
}

bool ParseOps(const char* text, std::vector<coll_op_t>* out) {
  out->clear();
  for (int op = COLL_SUM; op <= COLL_AVG; ++op) {
    if (std::strcmp(text, "all") == 0 || std::strcmp(text, kOps[op]) == 0)
      out->push_back(static_cast<coll_op_t>(op));
  }
  return !out->empty();
}

bool ParseRoot(const char* text, int* root) {
  if (std::strcmp(text, "all") == 0) {
    *root = -1;
    return true;
  }
  return ParseInt(text, 0, root);
}

bool ApplyOption(int flag, const char* arg, PerfOptions* o) {
  int check = 0;
  switch (flag) {
    case 'b': return ParseBytes(arg, &o->min_bytes);
    case 'e': return ParseBytes(arg, &o->max_bytes);
    case 'i': o->step_factor = 0; return ParseBytes(arg, &o->step_bytes);
    case 'f': o->step_factor = std::atof(arg); return o->step_factor > 1;
    case 'n': return ParseInt(arg, 1, &o->iters);
    case 'w': return ParseInt(arg, 0, &o->warmup);
    case 'c': o->check = ParseInt(arg, 0, &check) && check != 0; return true;
    case 'd': return ParseTypes(arg, &o->types);
    case 'o': return ParseOps(arg, &o->ops);
    case 'r': return ParseRoot(arg, &o->root);
    case 'C': o->compare_mpi = std::strcmp(arg, "mpi") == 0; return o->compare_mpi;
    case 'J': o->json_path = arg; return !o->json_path.empty();
    default: return false;
  }
}

constexpr option kLongOptions[] = {
    {"minbytes", required_argument, nullptr, 'b'},  {"maxbytes", required_argument, nullptr, 'e'},
    {"stepbytes", required_argument, nullptr, 'i'}, {"stepfactor", required_argument, nullptr, 'f'},
    {"iters", required_argument, nullptr, 'n'},     {"warmup_iters", required_argument, nullptr, 'w'},
    {"check", required_argument, nullptr, 'c'},     {"datatype", required_argument, nullptr, 'd'},
    {"op", required_argument, nullptr, 'o'},        {"root", required_argument, nullptr, 'r'},
    {"compare", required_argument, nullptr, 'C'},   {"json", required_argument, nullptr, 'J'},
    {"help", no_argument, nullptr, 'h'},            {nullptr, 0, nullptr, 0},
};

}  // namespace

bool ParseOptions(int argc, char** argv, PerfOptions* options, std::string* error) {
  error->clear();
  opterr = 0;
  optind = 1;
  int flag = 0;
  while ((flag = getopt_long(argc, argv, "b:e:i:f:n:w:c:d:o:r:h", kLongOptions, nullptr)) != -1) {
    if (flag == 'h') return false;
    if (flag == '?' || !ApplyOption(flag, optarg, options)) {
      *error = std::string("bad or unknown option ") + argv[optind - 1] +
               (optarg != nullptr && flag != '?' ? std::string(" ") + optarg : "");
      return false;
    }
  }
  if (optind < argc) *error = std::string("unexpected argument ") + argv[optind];
  if (options->max_bytes < options->min_bytes) *error = "-e (maxbytes) is smaller than -b";
  if (options->step_factor <= 1 && options->step_bytes == 0) *error = "-i (stepbytes) is 0";
  return error->empty();
}

std::string UsageText(const char* program) {
  return std::string("usage: mpirun -np N ") + program +
         " [options]\n"
         "  -b,--minbytes SIZE       smallest size (K/M/G suffixes), default 32M\n"
         "  -e,--maxbytes SIZE       largest size, default 32M\n"
         "  -i,--stepbytes SIZE      add SIZE between sizes, default 1M\n"
         "  -f,--stepfactor F        multiply sizes by F instead of -i\n"
         "  -n,--iters N             timed iterations per size, default 20\n"
         "  -w,--warmup_iters N      untimed iterations first, default 5\n"
         "  -c,--check 0|1           verify every timed iteration's result, default 1\n"
         "  -d,--datatype T|all      int8 uint8 int32 uint32 int64 uint64 half float double bfloat16\n"
         "  -o,--op OP|all           sum prod min max avg, default sum\n"
         "  -r,--root R|all          root of broadcast/reduce, default 0\n"
         "  --compare mpi            also time OpenMPI's equivalent on the same buffers\n"
         "  --json FILE              write every row as JSON (rank 0)\n";
}

std::vector<size_t> SizesToScan(const PerfOptions& options) {
  std::vector<size_t> sizes;
  for (size_t size = options.min_bytes; size <= options.max_bytes;) {
    sizes.push_back(size);
    size_t next = options.step_factor > 1 ? static_cast<size_t>(size * options.step_factor)
                                         : size + options.step_bytes;
    size = next > size ? next : size + 1;
  }
  return sizes;
}

const char* TypeName(coll_dtype_t type) {
  for (const TypeEntry& entry : kTypes) {
    if (entry.type == type) return entry.name;
  }
  return "unknown";
}

const char* OpName(coll_op_t op) {
  return op >= COLL_SUM && op <= COLL_AVG ? kOps[op] : "unknown";
}

}  // namespace coll::perf
