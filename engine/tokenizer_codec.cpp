// tokenizer_codec: text_codec over a tokenizer; decode runs the tokens' raw pieces through the
// UTF-8 guard, as streaming does, so a token list decodes to the text its stream showed.
#include "engine/tokenizer_codec.h"

#include "engine/tokenizer/tokenizer.h"

namespace tandem {
namespace {

class tokenizer_codec final : public text_codec {
  public:
    explicit tokenizer_codec(const tokenizer& tok) : tok_(tok) {}
    std::vector<int32_t> encode(std::string_view text, bool add_special, bool parse_special) const override {
        return tok_.encode(text, add_special, parse_special);
    }
    std::string token_piece(int32_t id) const override { return tok_.token_piece(id); }
    std::string token_text(int32_t id) const override { return std::string(tok_.token_text(id)); }
    std::string decode(std::span<const int32_t> ids) const override {
        utf8_stream utf8;
        std::string text;
        for (int32_t id : ids) text += utf8.push(tok_.token_piece(id));
        return text + utf8.flush();
    }
    int32_t bos_id() const override { return tok_.bos_id(); }
    int32_t eos_id() const override { return tok_.eos_id(); }
    bool is_eog(int32_t id) const override { return tok_.is_eog(id); }
    int32_t n_vocab() const override { return tok_.n_vocab(); }

  private:
    const tokenizer& tok_;
};

}  // namespace

std::unique_ptr<text_codec> make_text_codec(const tokenizer& tok) {
    return std::make_unique<tokenizer_codec>(tok);
}

}  // namespace tandem
