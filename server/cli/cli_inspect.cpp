// `tandem inspect FILE`: metadata and the tensor table of a GGUF file.
#include <cstdio>
#include <string>

#include "models/gguf/gguf.h"
#include "server/cli/commands.h"

namespace tandem {

void cli_add_inspect(CLI::App& app) {
    auto* cmd = app.add_subcommand("inspect", "Print a GGUF file's metadata and tensor table");
    auto path = std::make_shared<std::string>();
    auto n_items = std::make_shared<size_t>(8);
    cmd->add_option("file", *path, "GGUF file")->required();
    cmd->add_option("--array-items", *n_items, "Array elements to print per key");
    cmd->callback([path, n_items] {
        auto f = gguf::file::open(*path);
        std::printf("file: %s\nGGUF version: %u, alignment: %llu, size: %zu bytes\n", path->c_str(), f->version(),
                    static_cast<unsigned long long>(f->alignment()), f->size());
        const auto meta = f->describe_metadata(*n_items);
        std::printf("\nmetadata (%zu keys):\n", meta.size());
        for (const auto& [key, value] : meta) std::printf("  %-48s %s\n", key.c_str(), value.c_str());
        std::printf("\ntensors (%zu):\n", f->tensors().size());
        size_t total = 0;
        for (const gguf::tensor_info& t : f->tensors()) {
            std::string shape;
            for (int d = 0; d < t.n_dims; ++d) shape += (d ? " x " : "") + std::to_string(t.ne[d]);
            std::printf("  %-40s %-8s [%s]  %zu bytes @ %llu\n", t.name.c_str(),
                        std::string(dtype_info_of(t.type).name).c_str(), shape.c_str(), t.n_bytes,
                        static_cast<unsigned long long>(t.offset));
            total += t.n_bytes;
        }
        std::printf("\ntensor data: %zu bytes\n", total);
    });
}

}  // namespace tandem
