/* lang: CLD2 behind a C interface (lang.h). CLD2 names a few languages by codes that are not
 * today's ISO 639-1 ("iw" for Hebrew, "jw" for Javanese) or by a script variant ("zh-Hant");
 * those are mapped, and languages with only a three-letter code count as unknown. */
#include <cstdint>
#include <cstdio> /* compact_lang_det.h uses FILE without including it */
#include <cstring>

#include <cld2/public/compact_lang_det.h>

#include "lang.h"

/* CLD2's code -> the record's (docs/record.md: ISO 639-1). */
static const char *const lang_map[][2] = {
    {"iw", "he"}, {"jw", "jv"}, {"zh-Hant", "zh"}, {"sr-ME", "sr"},
};

extern "C" const char *lang_detect(const char *text, size_t len)
{
    if (len > (size_t)INT32_MAX)
        len = INT32_MAX;
    CLD2::Language top3[3];
    int percent3[3], text_bytes = 0;
    bool reliable = false;
    CLD2::Language lang;
    /* Not CLD2's ...CheckUTF8 variant: the text is valid UTF-8 already (extract_meta checks),
     * and that variant gives up on a whole text at its first control character or
     * noncharacter, which real feeds let through. */
    try {
        lang = CLD2::DetectLanguageSummary(text, (int)len, true, top3, percent3, &text_bytes,
                                           &reliable);
    } catch (...) { /* CLD2 throws nothing of its own; std::bad_alloc is no answer either */
        return nullptr;
    }
    if (!reliable || lang == CLD2::UNKNOWN_LANGUAGE || lang == CLD2::TG_UNKNOWN_LANGUAGE)
        return nullptr;
    const char *code = CLD2::LanguageCode(lang);
    for (const auto &m : lang_map)
        if (std::strcmp(code, m[0]) == 0)
            return m[1];
    return std::strlen(code) == 2 ? code : nullptr;
}
