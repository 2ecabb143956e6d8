/* clean_html through its descriptor against the mock core: real pages (gzipped copies in
 * tests/fixtures/html) keep their article and lose their furniture; charsets as pages declare
 * them, mislabel them or leave them out; pages with nothing to extract fail with a reason;
 * records that are not HTML pass untouched. */
#include <dlfcn.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <utf8proc.h>

#include "mock_core.h"
#include "newsflow/record.h"
/* the plugin's table of characters NFC leaves alone, to check it against utf8proc */
#include "../../plugins/clean_html/nfc.h"

static struct mock_plugin *plugin;

static int setup(void **state)
{
    (void)state;
    plugin = mock_plugin_new("clean_html", NULL);
    return plugin ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    mock_plugin_destroy(&plugin);
    return 0;
}


static struct nf_record *record_of(const void *raw, size_t n, const char *content_type)
{
    struct nf_record *rec = nf_record_new();
    assert_non_null(rec);
    char id[33];
    nf_id_make(raw, n, id);
    assert_int_equal(nf_record_set_cstr(rec, NF_F_ID, id), 0);
    assert_int_equal(nf_record_set_source(rec, "file:///pages/page.html", "dir"), 0);
    assert_int_equal(nf_record_set_cstr(rec, NF_F_CONTENT_TYPE, content_type), 0);
    assert_int_equal(nf_record_set_bytes(rec, NF_F_RAW, raw, n), 0);
    return rec;
}

/* The record's text with every run of whitespace made one space, as a reader compares it. */
static char *flat_text(struct nf_record *rec)
{
    const char *t = nf_record_str(rec, NF_F_TEXT, NULL);
    assert_non_null(t);
    char *out = malloc(strlen(t) + 1), *w = out;
    assert_non_null(out);
    for (; *t; t++) {
        bool ws = *t == ' ' || *t == '\n' || *t == '\t';
        if (ws && (w == out || w[-1] == ' '))
            continue;
        *w++ = ws ? ' ' : *t;
    }
    *w = '\0';
    return out;
}

/* Runs one HTML string through the plugin; the record is processed and round-tripped. */
static struct nf_record *run_html(const char *html, size_t n, int expect)
{
    struct nf_record *rec = record_of(html, n, "text/html; charset=unknown");
    assert_int_equal(mock_process(plugin, rec), expect);
    if (expect == 0)
        assert_int_equal(mock_roundtrip(rec), 0);
    return rec;
}

struct fixture {
    const char *file;
    const char *in[4];  /* sentences of the article */
    const char *out[4]; /* furniture around it */
};

static const struct fixture fixtures[] = {
    {"threatpost.com.android.html.gz",
     {"These messages include links to the ransomware",
      "using novel techniques to exfiltrate data."},
     {"Share this article:", "Write a comment", "Notify me when new comments are added.",
      "uses Akismet to reduce spam."}},
    {"next2games.de.anno.html.gz",
     {"zu entdecken, was Anno 1800 noch in petto hält.",
      "Neben dem Startgebiet in einer klimatisch eher gemäßigten",
      "Wie in jedem Titel der mittlerweile über 20 Jahre"},
     {"n2g media network", "CMS: Apexx by Stylemotion", "Diese Website nutzt Cookies"}},
    {"1hundetagebuch.wordpress.com.langer.html.gz",
     {"Ich könnte glatt ein schlechtes Gewissen", "So muss Mesty jetzt Pillen nehmen",
      "Vielleicht muss man die Dosis des"},
     {"Share this:", "Kommentar verfassen", "Ein Blog über die Abenteue"}},
    {"vipflash.de-Ehezoff.html.gz",
     {"Oliver Pocher sieht die Dinge jedoch anders und äußert sich recht deutlich",
      "Exclusiv Weekend Spezial: Die Stars im NFL-Fieber",
      "sagt Pocher in einem Live-Interview mit Moderatorin Frauke Ludowig"},
     {"Blaulicht", "Datenschutz", "Kontakt"}},
};

/* Made-up pages, each of one kind of page whose article lost text or kept furniture. */
static const struct fixture made_up[] = {
    /* a post the article quotes, embedded in a figure */
    {"embedded-post.html",
     {"The bridge will reopen to lorries in September, whatever the cost.",
      "Opposition members said the promise could not be kept"},
     {NULL}},
    /* posts the article quotes in wrappers named for social media, beside share buttons
     * named so too */
    {"post-in-social-wrapper.html",
     {"whatever the cost. We owe it to the farmers", "Road closures on the east bank end",
      "Opposition members said the promise"},
     {"Share on Facebook", "Email this story"}},
    /* a breaking-news ticker and a most-read list inside the article's container */
    {"most-read-and-breaking.html",
     {"Engineers told the meeting", "Opposition members said the promise"},
     {"Storm warning for the coast", "Most read", "Operators blame fuel prices",
      "No one was hurt"}},
    /* the same list with no class names, known by its heading */
    {"most-read-by-heading.html",
     {"Der Gemeinderat hat am Dienstagabend", "woher das Geld kommen soll"},
     {"Meistgelesen", "Treibstoffkosten", "Schulleiterin"}},
    /* cookie banners after the article, one without a class that says so */
    {"cookie-banner-appended.html",
     {"Engineers told the meeting", "Opposition members said the promise"},
     {"This website uses cookies", "We and our partners store", "Your choice of partners"}},
    /* an article hidden until a script shows it */
    {"hidden-until-scripts.html", {"Engineers told the meeting", "Bridge repairs run late"}, {NULL}},
    /* a figure left open, so that the parser puts the rest of the page inside it */
    {"figure-left-open.html", {"Engineers told the meeting", "Bridge repairs run late"}, {NULL}},
    /* an article with more link text than prose: share buttons and a list of other stories */
    {"article-among-links.html",
     {"The old bridge over the river has been closed", "Engineers told the meeting"},
     {"Privacy notice"}},
    /* the credits and labels of pictures between the paragraphs; sentences that begin with
     * "Source" or "Figure" */
    {"picture-credits.html",
     {"Source of the trouble is the eastern pier.", "Figure skating returns",
      "Engineers told the meeting"},
     {"Photo: Ana Lima", "Valley Courier / Ana Lima", "Bildquelle", "seen from the east bank"}},
    /* lines that point to other stories; a sentence that begins with "Related" */
    {"see-also-lines.html",
     {"Related costs rose by a third", "Opposition members said the promise"},
     {"See also", "Mehr zum Thema"}},
    /* notices of advertising and affiliate links; a sentence about advertising */
    {"advertising-notices.html",
     {"Die Werbung für Gießkannen verspricht viel", "nach einem Winter im Freien"},
     {"enthält Werbung", "Anzeige", "Affiliate-Links"}},
    /* an agency's terms of reprint, a site's notice of its rights and a note of no liability
     * between the paragraphs; a sentence of the report that something may not be published
     * stays */
    {"rights-notices.html",
     {"may not be published until their families are told", "asked for a discount"},
     {"may not be published, broadcast", "copyrighted property", "ohne Gewähr"}},
    /* a standfirst the CMS puts beside the text, in an element named a teaser */
    {"standfirst-beside-text.html",
     {"Die alte Brücke bleibt bis zum Herbst", "woher das Geld kommen soll"},
     {"Nachrichten"}},
    /* the comment form's prompt and empty state inside the article's container */
    {"comment-prompts.html",
     {"Die Biologin kommentierte den Plan knapp", "die nächste folgt im Juni"},
     {"Keine Kommentare", "loggen Sie sich bitte ein"}},
    /* a script-drawn article: the notice asking for scripts is no text, its JSON-LD is */
    {"prompt-and-json-ld.html",
     {"The council met on Tuesday evening", "how the difference would be found."},
     {"enable JavaScript", "ad blocker"}},
    /* appeals to support the site and subscribe after the last paragraph; a sentence that
     * mentions a newsletter stays */
    {"appeal-at-the-end.html",
     {"first described in the council's own newsletter in March."},
     {"Support us", "Subscribe to our weekly newsletter"}},
    /* a paywall's cut after the teaser, then an offer of several blocks; a sentence that
     * points to a full report without asking for a subscription stays */
    {"paywall-cut.html",
     {"Read the full report on the harbour board's website.", "asked for a discount"},
     {"please subscribe", "unlimited access", "printed edition", "readers' desk"}},
    /* calls to follow the outlet on a messaging channel or by newsletter between the
     * paragraphs; a sentence that reports a post on Telegram and a newsletter stays */
    {"channel-calls.html",
     {"El alcalde lo anunció en Telegram", "preguntaron de dónde saldrá la diferencia"},
     {"canal de WhatsApp", "morning newsletter"}},
    /* a rating and a likes widget that scripts have not drawn yet, without class names;
     * sentences about loading stay */
    {"loading-widgets.html",
     {"Das Beladen dauert bei Hochwasser", "The ferry app kept loading.", "seit der neue Radweg"},
     {"Loading...", "Wird geladen", "12 Stimmen"}},
    /* the author's sign-off after the last paragraph, then labels of widgets */
    {"signoff-at-the-end.html",
     {"einen schönen Sonntag.", "x Franzi"},
     {"Best deals", "Teilen mit"}},
    /* share buttons after the last paragraph whose first label is "X": no sign-off */
    {"share-labels-x.html",
     {"die Fähre fährt wieder ab Montag."},
     {"X Facebook", "Drucken"}},
    /* a question and a call to share after the last paragraph */
    {"share-question-at-the-end.html",
     {"kosten mehr als geplant."},
     {"Hat Ihnen der Artikel gefallen?", "Jetzt teilen!"}},
};

/* Fails, naming the page and the sentence, when `text` lacks one of the n_in sentences of
 * `in` or holds one of the n_out of `out` (either list may end sooner at a NULL). */
static void check_text(const char *page, const char *text, const char *const *in, size_t n_in,
                       const char *const *out, size_t n_out)
{
    for (size_t k = 0; k < n_in && in[k]; k++)
        if (!strstr(text, in[k]))
            fail_msg("%s: article sentence missing: %s", page, in[k]);
    for (size_t k = 0; k < n_out && out[k]; k++)
        if (strstr(text, out[k]))
            fail_msg("%s: furniture kept: %s", page, out[k]);
}

/* Runs the in-memory page `html` and checks its text as check_text does. */
static void expect_text(const char *page, const char *html, size_t n, const char *const *in,
                        size_t n_in, const char *const *out, size_t n_out)
{
    struct nf_record *rec = run_html(html, n, 0);
    check_text(page, nf_record_str(rec, NF_F_TEXT, NULL), in, n_in, out, n_out);
    nf_record_destroy(&rec);
}

#define EXPECT_TEXT(html, in, out)                                                               \
    expect_text(__func__, html, sizeof(html) - 1, in, sizeof(in) / sizeof(in[0]), out,            \
                sizeof(out) / sizeof(out[0]))

static void check_fixtures(const struct fixture *pages, size_t n_pages)
{
    for (size_t i = 0; i < n_pages; i++) {
        char path[512];
        snprintf(path, sizeof(path), "%s/tests/fixtures/html/%s", NF_SOURCE_DIR,
                 pages[i].file);
        size_t n = 0;
        char *raw = mock_slurp(path, &n);
        assert_non_null(raw);
        struct nf_record *rec = record_of(raw, n, "text/html");
        int rc = mock_process(plugin, rec);
        if (rc != 0)
            fail_msg("%s: %s", pages[i].file, mock_last_error());
        char *text = flat_text(rec);
        check_text(pages[i].file, text, pages[i].in, 4, pages[i].out, 4);
        /* raw stays as fetched: later stages and the dead-letter store may need it */
        size_t rn = 0;
        assert_non_null(nf_record_bytes(rec, NF_F_RAW, &rn));
        assert_int_equal(rn, n);
        free(text);
        nf_record_destroy(&rec);
        free(raw);
    }
}

static void test_real_pages_keep_article_drop_furniture(void **state)
{
    (void)state;
    check_fixtures(fixtures, sizeof(fixtures) / sizeof(fixtures[0]));
}

static void test_made_up_pages_keep_article_drop_furniture(void **state)
{
    (void)state;
    check_fixtures(made_up, sizeof(made_up) / sizeof(made_up[0]));
}

/* A page whose article is drawn by scripts and whose only text is the consent notice: no
 * article text, not the notice as the article. */
static void test_prompt_alone_is_no_article(void **state)
{
    (void)state;
    char path[512];
    snprintf(path, sizeof(path), "%s/tests/fixtures/html/consent-prompt-only.html",
             NF_SOURCE_DIR);
    size_t n = 0;
    char *raw = mock_slurp(path, &n);
    assert_non_null(raw);
    struct nf_record *rec = record_of(raw, n, "text/html");
    assert_int_equal(mock_process(plugin, rec), NF_ERR);
    assert_non_null(strstr(mock_last_error(), "no article text found in the page"));
    assert_false(nf_record_has(rec, NF_F_TEXT));
    nf_record_destroy(&rec);
    free(raw);
}

#define PROSE                                                                                   \
    "<p>The council met on Tuesday evening to discuss the new bridge over the river, which has " \
    "been closed for repairs since the spring floods damaged its eastern pillar.</p>"           \
    "<p>Engineers told the meeting that the work would take at least another four months, and " \
    "that the cost had risen by a third since the first estimate was made in April.</p>"

/* A consent platform's wall of several paragraphs is no article either; a short report about
 * consent rules is one, also its paragraphs that name cookies and consent. */
static void test_consent_wall_is_no_article(void **state)
{
    (void)state;
    char path[512];
    snprintf(path, sizeof(path), "%s/tests/fixtures/html/consent-wall.html", NF_SOURCE_DIR);
    size_t n = 0;
    char *raw = mock_slurp(path, &n);
    assert_non_null(raw);
    struct nf_record *rec = record_of(raw, n, "text/html");
    assert_int_equal(mock_process(plugin, rec), NF_ERR);
    assert_non_null(strstr(mock_last_error(), "no article text found in the page"));
    nf_record_destroy(&rec);
    free(raw);
    static const char report[] =
        "<html><body><article><h1>Court rules on cookie banners</h1>"
        "<p>The court in Luxembourg ruled on Tuesday in a case that began eight years ago with a "
        "lottery run by a marketing firm, which asked the players of its online game for their "
        "names and addresses and passed them on to the sponsors of the prizes.</p>"
        "<p>Websites must ask for consent before they store cookies that track their visitors, "
        "the judges said, and a box ticked in advance is no consent.</p>"
        "<p>Publishers said they would have to change the banners that ask readers to accept "
        "cookies or to pay for a subscription without advertising.</p>"
        "<p>The federation of consumer groups, which brought the case, called the ruling a "
        "victory for every household that shops on the internet, and said it would now turn "
        "to the national courts.</p>"
        "</article></body></html>";
    static const char *const in[] = {"a lottery run by a marketing firm",
                                     "a box ticked in advance is no consent",
                                     "turn to the national courts"};
    static const char *const out[] = {NULL};
    EXPECT_TEXT(report, in, out);
}

/* A page of its own, run from memory: the sentences it must keep and the furniture it must
 * lose (either list may end sooner at a NULL). */
struct page {
    const char *name;
    const char *html;
    const char *in[3];
    const char *out[3];
};

static void check_pages(const struct page *pages, size_t n_pages)
{
    for (size_t i = 0; i < n_pages; i++) {
        struct nf_record *rec =
            record_of(pages[i].html, strlen(pages[i].html), "text/html; charset=unknown");
        if (mock_process(plugin, rec) != 0)
            fail_msg("%s: %s", pages[i].name, mock_last_error());
        check_text(pages[i].name, nf_record_str(rec, NF_F_TEXT, NULL), pages[i].in, 3,
                   pages[i].out, 3);
        nf_record_destroy(&rec);
    }
}

/* Short news items (under the 600 bytes of a notice) whose subject is cookies, consent or a
 * paywall: they report what someone said or decided, in the third person (the reader is
 * addressed only in quotations, double or single), and keep their text and their headline;
 * the banner after the first one is still dropped. */
static void test_short_reports_on_consent_keep_their_text(void **state)
{
    (void)state;
    static const struct page reports[] = {
        {"cookie ruling, with a dateline and a banner after it",
         "<html><body><article><h1>EU court: a ticked box is no consent to cookies</h1>"
         "<p>LUXEMBOURG (Reuters) - The European Union's top court ruled on Tuesday that "
         "websites must obtain users' active consent before storing cookies on their devices, "
         "and that a box ticked in advance does not count.</p>"
         "<p>The consumer federation that brought the case said publishers would now have to "
         "redesign their privacy banners.</p></article>"
         "<p>We use cookies to personalise content. By clicking Accept, you agree to our "
         "cookie policy.</p></body></html>",
         {"EU court: a ticked box is no consent to cookies",
          "The European Union's top court ruled on Tuesday", "redesign their privacy banners."},
         {"We use cookies"}},
        {"paywall announced",
         "<html><body><article><h1>Valley Courier to charge for its website</h1>"
         "<p>The Valley Courier will ask online readers to subscribe from March, its publisher "
         "said on Monday, after advertising revenue fell by a fifth last year.</p>"
         "<p>Subscribers who log in will keep the archive of forty years, while stories about "
         "elections and floods will stay free, the publisher added.</p>"
         "<p>‘If you subscribe, you keep forty years of the archive,’ the editor told staff.</p>"
         "</article></body></html>",
         {"ask online readers to subscribe from March", "stay free, the publisher added.",
          "the editor told staff."},
         {NULL}},
        {"Cookie-Urteil",
         "<html><body><article><h1>Gericht: Cookie-Banner brauchen einen Ablehnen-Knopf</h1>"
         "<p>Das Landgericht München hat am Donnerstag entschieden, dass eine Website die "
         "Einwilligung in Cookies nicht erzwingen darf: Wer mit einem Klick zustimmen kann, "
         "muss ebenso leicht ablehnen können.</p>"
         "<p>Die Verbraucherzentrale, die gegen einen Verlag geklagt hatte, erklärte, sie "
         "erwarte nun ähnliche Urteile gegen Hunderte Seiten.</p></article></body></html>",
         {"Einwilligung in Cookies nicht erzwingen darf", "ähnliche Urteile"},
         {NULL}},
        {"amende pour cookies, qui cite la présidente",
         "<html><body><article><h1>Cookies : la CNIL inflige une amende à Google</h1>"
         "<p>La CNIL a infligé jeudi une amende de 150 millions d'euros à Google, dont les "
         "sites ne permettaient pas de refuser les cookies aussi facilement que de les "
         "accepter.</p>"
         "<p>« Si vous acceptez les cookies en un clic, vous devez pouvoir les refuser en un "
         "clic », a déclaré la présidente de l'autorité.</p></article></body></html>",
         {"aussi facilement que de les accepter.", "a déclaré la présidente"},
         {NULL}},
        {"muro de pago",
         "<html><body><article><h1>El Heraldo del Valle cobrará por sus noticias</h1>"
         "<p>El Heraldo del Valle anunció el lunes que a partir de marzo los lectores deberán "
         "suscribirse para leer la mayoría de sus artículos en la web.</p>"
         "<p>La directora del periódico explicó que la suscripción costará cinco euros al mes y "
         "que las noticias de servicio público seguirán siendo gratuitas.</p>"
         "</article></body></html>",
         {"deberán suscribirse para leer", "seguirán siendo gratuitas."},
         {NULL}},
    };
    check_pages(reports, sizeof(reports) / sizeof(reports[0]));
}

#define BANNER_PAGE(banner)                                                                     \
    "<html><body><article><h1>Bridge repairs run late</h1>" PROSE "<p>" banner "</p>"           \
    "</article></body></html>"

/* The banners and prompts the notice checks are for are still dropped: they speak to the
 * reader, in any language, also when they name a court's ruling or quote a button. */
static void test_banners_still_dropped(void **state)
{
    (void)state;
    static const char *const in[] = {"The council met on Tuesday evening",
                                     "first estimate was made in April."};
    const struct page banners[] = { /* not static: it points into in[] */
        {"English banner",
         BANNER_PAGE("This website uses cookies to give you the best experience. By clicking "
                     "Accept you agree to our use of cookies."),
         {in[0], in[1]}, {"uses cookies"}},
        {"banner that names a ruling",
         BANNER_PAGE("Since the European court ruled on cookies, we need your consent before "
                     "we store them on your device. Manage your choices at any time."),
         {in[0], in[1]}, {"we need your consent"}},
        {"Cookie-Hinweis",
         BANNER_PAGE("Wir verwenden Cookies, um Inhalte zu personalisieren. Wenn Sie auf "
                     "„Akzeptieren“ klicken, stimmen Sie der Verwendung zu, wie am Montag "
                     "in unserer Datenschutzerklärung angekündigt."),
         {in[0], in[1]}, {"Wir verwenden Cookies"}},
        {"Cookie-Hinweis ohne wir",
         BANNER_PAGE("Diese Website verwendet Cookies. Mit der Nutzung erklären Sie sich "
                     "einverstanden, so sagt es die Datenschutzerklärung."),
         {in[0], in[1]}, {"Diese Website verwendet Cookies"}},
        {"bandeau de cookies",
         BANNER_PAGE("Ce site utilise des cookies pour mesurer l'audience. En poursuivant "
                     "votre navigation, vous acceptez leur utilisation."),
         {in[0], in[1]}, {"Ce site utilise des cookies"}},
        {"aviso de cookies",
         BANNER_PAGE("Utilizamos cookies propias y de terceros para mejorar nuestros servicios. "
                     "Si continúa navegando, consideramos que acepta su uso."),
         {in[0], in[1]}, {"Utilizamos cookies"}},
        {"avviso dei cookie",
         BANNER_PAGE("Questo sito utilizza cookie di profilazione. Cliccando su Accetta "
                     "acconsenti al loro uso, come descritto nella nostra privacy policy."),
         {in[0], in[1]}, {"Questo sito utilizza cookie"}},
        {"appeal to subscribe",
         BANNER_PAGE("Enjoyed this story? Subscribe to our weekly edition, as 20,000 readers "
                     "did on Monday."),
         {in[0], in[1]}, {"Enjoyed this story?"}},
    };
    check_pages(banners, sizeof(banners) / sizeof(banners[0]));
    /* the label of the consent settings over a report is no headline */
    static const char label[] =
        "<html><body><article><p>Cookie settings</p>" PROSE
        "<p>The mayor said the bridge would reopen to lorries in September.</p>"
        "</article></body></html>";
    static const char *const label_out[] = {"Cookie settings"};
    EXPECT_TEXT(label, in, label_out);
    /* a page whose only text is a prompt, which a day of the week does not make a report */
    static const char prompt[] =
        "<html><body><div id='app'></div><div class='notice'><p>Um diesen Artikel zu lesen, "
        "akzeptieren Sie bitte die Cookies oder melden Sie sich mit Ihrem Abo an. Neue Artikel "
        "erscheinen jeden Montag.</p></div></body></html>";
    struct nf_record *rec = run_html(prompt, sizeof(prompt) - 1, NF_ERR);
    assert_non_null(strstr(mock_last_error(), "no article text found in the page"));
    nf_record_destroy(&rec);
}

static void test_furniture_of_a_synthetic_page(void **state)
{
    (void)state;
    static const char html[] =
        "<!DOCTYPE html><html><head><title>Bridge</title><style>p{color:red}</style></head>"
        "<body><nav><a href='/'>Home</a> <a href='/news'>News</a> <a href='/sport'>Sport</a></nav>"
        "<div class='cookie-banner'>We use cookies to improve your experience on our site.</div>"
        "<div id='main'><h1>Bridge repairs run late</h1>" PROSE
        "<h2>What happens next</h2><ul><li>Traffic stays diverted through the old town until "
        "the bridge reopens.</li></ul><blockquote>We will not cut corners, said the chief "
        "engineer of the works.</blockquote><script>var x = 'tracking code';</script></div>"
        "<aside class='related'><h3>Related stories</h3><ul><li><a href='/a'>Floods hit the "
        "valley again</a></li><li><a href='/b'>Mayor opens new school</a></li></ul></aside>"
        "<div class='comments'><p>Great article, thanks for writing it up so clearly!</p></div>"
        "<footer>Copyright 2024 The Valley Times. All rights reserved.</footer></body></html>";
    static const char *const in[] = {
        "The council met on Tuesday evening", "pillar.\n\nEngineers told", "What happens next",
        "Traffic stays diverted", "We will not cut corners",
    };
    static const char *const out[] = {
        "We use cookies", "Sport", "Floods hit the valley", "Great article", "Copyright 2024",
        "tracking code", "color:red",
    };
    EXPECT_TEXT(html, in, out);
}

/* A <nav> whose end tag is missing swallows the article in the parsed tree: the page is then
 * read with <nav> as a plain block, and the menu inside still goes by its link density. */
static void test_nav_swallowing_the_page(void **state)
{
    (void)state;
    static const char html[] =
        "<html><body><nav><ul><li><a href='/'>Home</a></li><li><a href='/news'>News</a></li>"
        "<li><a href='/sport'>Sport</a></li><li><a href='/weather'>Weather</a></li></ul>"
        "<div><div><div class='wysiwyg'><h1>Bridge repairs run late</h1>" PROSE
        "</div></div></div></body></html>";
    static const char *const in[] = {"The council met on Tuesday evening"};
    static const char *const out[] = {"Weather"};
    EXPECT_TEXT(html, in, out);
}

/* "teaser" names both the standfirst of the article and the cards of other stories: a lone
 * teaser without links stays, teasers that come in a row or link away go. */
static void test_teaser_lead_and_teaser_cards(void **state)
{
    (void)state;
    static const char html[] =
        "<html><body><div class='page'><div class='story'><h1>Bridge repairs run late</h1>"
        "<div class='teaser'>Four more months of detours for the old town, and a bill a "
        "third higher than planned.</div>" PROSE "</div>"
        "<div class='more'><div class='card'><div class='teaser-text'>The mayor opened the new "
        "school on the hill with a speech about the future.</div></div>"
        "<div class='card'><div class='teaser-text big'>Floods hit the valley again after a "
        "week of rain in the mountains.</div></div>"
        "<div class='card'><div class='teaser-box'><a href='/c'>Market day moves to Friday "
        "this year</a> because of the works.</div></div></div></div></body></html>";
    static const char *const in[] = {
        "Four more months of detours", "The council met on Tuesday evening",
    };
    static const char *const out[] = {"The mayor opened", "Floods hit the valley", "Market day"};
    EXPECT_TEXT(html, in, out);
}

/* A standfirst set apart from the body, next to the headline, belongs to the text; a byline
 * there does not. */
static void test_lead_between_headline_and_body(void **state)
{
    (void)state;
    static const char html[] =
        "<html><body><div class='head'><h1>Bridge repairs run late</h1>"
        "<h2 class='sub'>The old town keeps its detours until the winter.</h2>"
        "<p class='intro'>Four more months of detours for the old town, and a bill a third "
        "higher than planned.</p><div>By Anna Berg and Tom Hale</div></div>"
        "<div class='row'><div class='body'>" PROSE PROSE "</div></div>"
        "<div class='foot'><p>Every story of the week in your inbox on Sunday.</p></div>"
        "</body></html>";
    static const char *const in[] = {
        "Bridge repairs run late\n\nThe old town keeps its detours",
        "winter.\n\nFour more months of detours", "planned.\n\nThe council met on Tuesday evening",
    };
    static const char *const out[] = {"Anna Berg", "Every story of the week"};
    EXPECT_TEXT(html, in, out);
}

/* "hidden" as a whole class hides the element; as part of a longer class it hides a part of
 * it ("field--label-hidden") or names screen sizes ("hidden-xs"), and the text shows. */
static void test_hidden_class_words(void **state)
{
    (void)state;
    static const char html[] =
        "<html><body><div class='story'><h1>Bridge repairs run late</h1>"
        "<div class='field field--name-body field--label-hidden'>" PROSE
        "<div class='note hidden-xs'><p>Residents of the old town have been asked to use the "
        "ferry, which now runs every twenty minutes, until the works are done.</p></div>"
        "<div class='hidden'><p>Thank you for signing up, your first newsletter is on its way "
        "to your inbox.</p></div></div></div></body></html>";
    static const char *const in[] = {
        "The council met on Tuesday evening", "Residents of the old town",
    };
    static const char *const out[] = {"Thank you for signing up"};
    EXPECT_TEXT(html, in, out);
}

/* Each kind of word in class and id values, as one page shows them: a state of the page
 * ("has-sidebar", "is-open") says nothing of the element; furniture ("sidebar", "newsletter")
 * goes, and so does "most" with the list it names ("mostViewed", "most_shared"), but not
 * "most" alone; "visually" with "hidden" hides an element, "visually" alone does not. */
static void test_class_words_of_each_kind(void **state)
{
    (void)state;
    static const char html[] =
        "<html><body class='has-sidebar no-newsletter'><div id='main' class='is-open'>"
        "<h1>Bridge repairs run late</h1>" PROSE
        "<p class='most-important'>The mayor said the most important thing was that the ferry "
        "keeps running every twenty minutes until the works are done.</p>"
        "<p class='visually-prominent'>Residents of the old town have been asked to use the "
        "ferry, which now runs every twenty minutes, until the bridge reopens.</p>"
        "<div class='note has-sidebar'><p>Shops on the east bank say trade has fallen by a "
        "third since the closure, and want the council to cut their rates.</p></div>"
        "<div class='mostViewed'><p>Ten things to do this weekend in the valley, whatever the "
        "weather may bring us all.</p></div>"
        "<div class='box most_shared'><p>Our readers' favourite recipes of the year, from soups "
        "to cakes and everything in between.</p></div>"
        "<span class='visually-hidden'>Skip to the comments section of this article.</span>"
        "<div class='sidebar'><p>Sign up to our newsletter and win a weekend for two in the "
        "mountains this winter.</p></div></div></body></html>";
    static const char *const in[] = {
        "The council met on Tuesday evening", "the most important thing",
        "Residents of the old town", "Shops on the east bank",
    };
    static const char *const out[] = {
        "Ten things to do", "favourite recipes", "Skip to the comments",
        "Sign up to our newsletter",
    };
    EXPECT_TEXT(html, in, out);
}

/* A <header> of prose is the article's headline and standfirst; the site's masthead of a
 * slogan and menus still goes. */
static void test_article_header_of_prose(void **state)
{
    (void)state;
    static const char html[] =
        "<html><body><header><a href='/'>The Valley Times</a><ul><li><a href='/news'>News</a>"
        "</li><li><a href='/sport'>Sport</a></li></ul><p>Your paper since 1901</p></header>"
        "<div class='page'><header class='mt-0'><h1>Bridge repairs run late</h1><p>Four more "
        "months of detours for the old town, a bill a third higher than planned, and no end of "
        "the works before the winter, the engineers told the council on Tuesday.</p></header>"
        "<div class='body'>" PROSE PROSE "</div></div></body></html>";
    static const char *const in[] = {
        "Four more months of detours", "The council met on Tuesday evening",
    };
    static const char *const out[] = {"Your paper since", "Sport"};
    EXPECT_TEXT(html, in, out);
}

/* A row of cards, each the linked headline of another story over its summary, is a teaser
 * list even inside the article's element and without any class name saying so. */
static void test_row_of_story_cards(void **state)
{
    (void)state;
    static const char html[] =
        "<html><body><article><h1>Bridge repairs run late</h1>" PROSE PROSE
        "<div><div><h3><a href='/a'>Floods hit the valley again</a></h3><p>A week of rain in "
        "the mountains sent the river over its banks for the second time this year.</p></div>"
        "<div><h3><a href='/b'>Mayor opens new school</a></h3><p>The school on the hill has "
        "room for three hundred pupils and a library open to everyone.</p></div>"
        "<div><h3><a href='/c'>Market day moves</a></h3><p>Stalls will stand on the church "
        "square on Fridays until the works on the bridge are finished.</p></div></div>"
        "</article></body></html>";
    static const char *const in[] = {"The council met on Tuesday evening"};
    static const char *const out[] = {"A week of rain", "three hundred pupils", "church square"};
    EXPECT_TEXT(html, in, out);
}

/* A heading over a dropped section goes with it; an empty ad slot between a heading and its
 * text does not make the heading head nothing. */
static void test_heading_over_empty_ad_slot(void **state)
{
    (void)state;
    static const char html[] =
        "<html><body><article><h1>Bridge repairs run late</h1>" PROSE
        "<h2>What the engineers found</h2><div class='ad-slot'></div>" PROSE
        "<h2>Related stories</h2><ul class='related'><li><a href='/a'>Floods hit the valley "
        "again</a></li><li><a href='/b'>Mayor opens new school</a></li></ul>"
        "</article></body></html>";
    static const char *const in[] = {"What the engineers found"};
    static const char *const out[] = {"Related stories", "Floods hit"};
    EXPECT_TEXT(html, in, out);
}

/* Class names judge inline elements in a paragraph too: a caption or a copyright line in a
 * <span> or <em> goes, the paragraph's own words stay. */
static void test_inline_furniture_in_a_paragraph(void **state)
{
    (void)state;
    static const char html[] =
        "<html><body><article><h1>Bridge repairs run late</h1>" PROSE
        "<p><span class='image'><span class='caption'>The eastern pillar after the floods, "
        "seen from the old town</span></span> <em class='copyright'>Photo agency Valley</em>"
        "</p>" PROSE "</article></body></html>";
    static const char *const in[] = {"The council met on Tuesday evening"};
    static const char *const out[] = {"seen from the old town", "Photo agency"};
    EXPECT_TEXT(html, in, out);
}

/* Ruby annotations (<rt>, <rp>) are readings printed over the words, not text of the sentence. */
static void test_ruby_annotations_dropped(void **state)
{
    (void)state;
    static const char html[] =
        "<html><body><div><p><ruby>\xe5\xad\x90<rt>\xe3\x81\x93</rt></ruby><ruby>\xe3\x81"
        "\xa9\xe3\x82\x82<rp>(</rp><rt>x</rt><rp>)</rp></ruby>\xe3\x81\xb8\xe3\x81\xae"
        "\xe8\x99\x90\xe5\xbe\x85\xe3\x82\x92\xe3\x81\xaa\xe3\x81\x8f\xe3\x81\x99"
        "\xe3\x81\x9f\xe3\x82\x81\xe3\x81\xae\xe6\xb3\x95\xe5\xbe\x8b\xe3\x81\x8c"
        "\xe3\x81\xa7\xe3\x81\x8d\xe3\x81\xa6\xe3\x80\x81\xe8\xa6\xaa\xe3\x81\x8c"
        "\xe5\xad\x90\xe3\x81\xa9\xe3\x82\x82\xe3\x82\x92\xe6\x95\x99\xe8\x82\xb2"
        "\xe3\x81\x99\xe3\x82\x8b\xe3\x80\x82</p></div></body></html>";
    struct nf_record *rec = run_html(html, sizeof(html) - 1, 0);
    const char *text = nf_record_str(rec, NF_F_TEXT, NULL);
    /* 子ども: the base text runs on, without its reading or the fallback brackets */
    assert_non_null(strstr(text, "\xe5\xad\x90\xe3\x81\xa9\xe3\x82\x82\xe3\x81\xb8"));
    assert_null(strstr(text, "\xe3\x81\x93"));
    assert_null(strstr(text, "(x)"));
    nf_record_destroy(&rec);
}

/* windows-1252 bytes for ’ “ ” – under a label that says iso-8859-1, as many old pages do. */
static void test_latin1_label_reads_as_windows_1252(void **state)
{
    (void)state;
    static const char html[] =
        "<html><head><meta http-equiv=\"Content-Type\" content=\"text/html; "
        "charset=ISO-8859-1\"></head><body><p>The mayor\x92s office said the \x93new plan\x94 "
        "was ready \x96 and that the caf\xe9 on the square would stay open all winter long, "
        "whatever the council decided.</p></body></html>";
    struct nf_record *rec = run_html(html, sizeof(html) - 1, 0);
    const char *text = nf_record_str(rec, NF_F_TEXT, NULL);
    assert_non_null(strstr(text, "The mayor\u2019s office said the \u201cnew plan\u201d was "
                                 "ready \u2013 and that the caf\u00e9 on the square"));
    for (const unsigned char *p = (const unsigned char *)text; *p; p++)
        if (p[0] == 0xC2 && p[1] >= 0x80 && p[1] <= 0x9F)
            fail_msg("C1 control character in the text");
    nf_record_destroy(&rec);
}

static void test_bom_decides(void **state)
{
    (void)state;
    /* a UTF-8 BOM outranks a wrong <meta> */
    static const char utf8[] = "\xEF\xBB\xBF<html><head><meta charset=\"windows-1251\"></head>"
                               "<body><p>Zoë and Søren met at the café in Malmö to plan their "
                               "trip across the fjords next summer.</p></body></html>";
    struct nf_record *rec = run_html(utf8, sizeof(utf8) - 1, 0);
    const char *text = nf_record_str(rec, NF_F_TEXT, NULL);
    assert_string_equal(text, "Zoë and Søren met at the café in Malmö to plan their trip across "
                              "the fjords next summer.");
    nf_record_destroy(&rec);

    /* UTF-16LE with its BOM */
    static const char ascii[] = "<html><body><p>Sixteen bits a character, and still the same "
                                "sentence about the harbour.</p></body></html>";
    size_t n = sizeof(ascii) - 1;
    unsigned char *u16 = malloc(2 + 2 * n);
    assert_non_null(u16);
    u16[0] = 0xFF, u16[1] = 0xFE;
    for (size_t i = 0; i < n; i++)
        u16[2 + 2 * i] = (unsigned char)ascii[i], u16[3 + 2 * i] = 0;
    rec = run_html((const char *)u16, 2 + 2 * n, 0);
    assert_non_null(strstr(nf_record_str(rec, NF_F_TEXT, NULL), "still the same sentence"));
    nf_record_destroy(&rec);
    free(u16);
}

static void test_undeclared_charsets(void **state)
{
    (void)state;
    /* UTF-8 without any declaration */
    static const char utf8[] = "<html><body><p>Ça m’a coûté une journée entière, déclare "
                               "l’élue, mais la décision était nécessaire.</p></body></html>";
    struct nf_record *rec = run_html(utf8, sizeof(utf8) - 1, 0);
    assert_non_null(strstr(nf_record_str(rec, NF_F_TEXT, NULL), "Ça m’a coûté une journée"));
    nf_record_destroy(&rec);

    /* windows-1252 without any declaration: detected, not taken for UTF-8 */
    static const char cp1252[] =
        "<html><body><p>L\x92\xe9quipe municipale a pr\xe9sent\xe9 son projet de r\xe9novation "
        "de la biblioth\xe8que. Les travaux commenceront d\xe8s le mois prochain et dureront "
        "jusqu\x92\xe0 l\x92\xe9t\xe9. Le co\xfbt total d\xe9passe les pr\xe9visions, mais "
        "l\x92\xe9lue responsable a d\xe9" "fendu une d\xe9" "cision n\xe9" "cessaire pour le "
        "quartier.</p></body></html>";
    rec = run_html(cp1252, sizeof(cp1252) - 1, 0);
    const char *text = nf_record_str(rec, NF_F_TEXT, NULL);
    assert_non_null(strstr(text, "L’équipe municipale a présenté son projet de rénovation"));
    assert_non_null(strstr(text, "bibliothèque"));
    assert_null(strstr(text, "\xEF\xBF\xBD")); /* no replacement characters */
    nf_record_destroy(&rec);

    /* a UTF-8 page with one stray windows-1252 byte keeps its UTF-8 and repairs the byte */
    static const char mixed[] = "<html><head><meta charset=\"utf-8\"></head><body><p>Größe "
                                "und Gewicht \x96 beides wurde am Dienstag im Rathaus "
                                "gemessen.</p></body></html>";
    rec = run_html(mixed, sizeof(mixed) - 1, 0);
    assert_non_null(
        strstr(nf_record_str(rec, NF_F_TEXT, NULL), "Größe und Gewicht – beides wurde"));
    nf_record_destroy(&rec);
    /* wherever the stray byte falls among the ASCII bytes around it, and at the very end */
    for (int k = 0; k < 10; k++) {
        char page[512];
        int len = snprintf(page, sizeof(page),
                           "<html><head><meta charset=\"utf-8\"></head><body><p>%*sGröße und "
                           "Gewicht \x96 beides wurde am Dienstag im Rathaus gemessen.</p>"
                           "</body></html>%.*s",
                           k, "", k == 9, "\x96");
        rec = run_html(page, (size_t)len, 0);
        assert_non_null(
            strstr(nf_record_str(rec, NF_F_TEXT, NULL), "Größe und Gewicht – beides wurde"));
        nf_record_destroy(&rec);
    }
}

/* Whether s is well-formed UTF-8 (no cut character, no stray continuation byte). */
static bool utf8_ok(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        int k = *p < 0x80 ? 0 : (*p & 0xE0) == 0xC0 ? 1 : (*p & 0xF0) == 0xE0 ? 2
                                                      : (*p & 0xF8) == 0xF0 ? 3 : -1;
        if (k < 0)
            return false;
        p++;
        for (; k > 0; k--, p++)
            if ((*p & 0xC0) != 0x80)
                return false;
    }
    return true;
}

/* A headline longer than what the metadata reader keeps of an element's text is cut between
 * characters, never inside one (found by fuzz.html: a title of cut UTF-8). */
static void test_long_headline_cut_between_characters(void **state)
{
    (void)state;
    char html[8192];
    size_t n = (size_t)snprintf(html, sizeof(html), "<html><body><article><h1>");
    for (int i = 0; i < 300; i++) /* 3 bytes each, no space: one long word of quotes */
        n += (size_t)snprintf(html + n, sizeof(html) - n, "\xE2\x80\x99");
    n += (size_t)snprintf(html + n, sizeof(html) - n, "</h1>");
    for (int i = 0; i < 6; i++)
        n += (size_t)snprintf(html + n, sizeof(html) - n,
                              "<p>Mali, Burkina Faso and Niger signed a defence pact in Bamako "
                              "on Saturday, the juntas said in a joint statement %d.</p>", i);
    n += (size_t)snprintf(html + n, sizeof(html) - n, "</article></body></html>");
    struct nf_record *rec = run_html(html, n, 0);
    const char *title = nf_record_str(rec, NF_F_TITLE, NULL);
    assert_non_null(title);
    assert_true(strlen(title) > 100);
    assert_true(utf8_ok(title));
    nf_record_destroy(&rec);
}

static void test_nfc_and_whitespace(void **state)
{
    (void)state;
    /* "e" + combining acute becomes é; no-break spaces and newlines collapse inside a block */
    static const char html[] = "<html><body><p>Caf\x65\xCC\x81   au\xC2\xA0\xC2\xA0lait\n\n"
                               "served   on the terrace of the old station every morning.</p>"
                               "</body></html>";
    struct nf_record *rec = run_html(html, sizeof(html) - 1, 0);
    assert_string_equal(nf_record_str(rec, NF_F_TEXT, NULL),
                        "Café au lait served on the terrace of the old station every morning.");
    nf_record_destroy(&rec);
    /* among characters NFC leaves alone (Latin letters, quotes, dashes), one that it does not
     * still gets composed */
    static const char mixed[] = "<html><body><p>\xE2\x80\x9CL\xE2\x80\x99\xC3\xA9t\xC3\xA9 "
                                "\xE2\x80\x93 a summer at the caf\x65\xCC\x81\xE2\x80\x9D, said "
                                "the owner of the old station, who opens it every morning.</p>"
                                "</body></html>";
    rec = run_html(mixed, sizeof(mixed) - 1, 0);
    assert_string_equal(nf_record_str(rec, NF_F_TEXT, NULL),
                        "“L’été – a summer at the café”, said the owner of the old station, who "
                        "opens it every morning.");
    nf_record_destroy(&rec);
}

/* The fields clean_html fills, joined: what a page gave, to compare two runs of it. */
static char *page_output(struct nf_record *rec)
{
    static const int fields[] = {NF_F_TEXT,   NF_F_TITLE, NF_F_PUBLISHED_AT, NF_F_BYLINE,
                                 NF_F_OUTLET, NF_F_URL,   NF_F_LANG};
    size_t len = 0;
    char *out = NULL;
    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
        size_t n = 0;
        const char *v = nf_record_str(rec, fields[i], &n);
        out = realloc(out, len + n + 2);
        assert_non_null(out);
        memcpy(out + len, v ? v : "", n);
        len += n;
        out[len++] = '\x1f';
    }
    out[len] = '\0';
    return out;
}

/* One parser context serves every page of a worker (its dictionary and buffers stay warm):
 * a page must give what it gives to a fresh worker, whatever was parsed before it, in UTF-8,
 * windows-1252 declared or not, UTF-16 or Shift_JIS, with a <meta> that names another charset,
 * in either order. */
static void test_reused_parser_gives_the_same_output(void **state)
{
    (void)state;
    static const char *const files[] = {
        "1hundetagebuch.wordpress.com.langer.html.gz", "next2games.de.anno.html.gz",
        "threatpost.com.android.html.gz", "vipflash.de-Ehezoff.html.gz", "embedded-post.html"};
    static const char cp1252[] =
        "<html><head><title>Caf\xe9 \x96 Stadt</title></head><body><p>Der B\xfcrgermeister "
        "sagte, das Caf\xe9 am Platz bleibe den ganzen Winter \x84offen\x93, was der Rat auch "
        "beschlie\xdf" "e.</p></body></html>";
    static const char sjis[] =
        "<html><head><meta charset=\"shift_jis\"></head><body><p>\x93\x8c\x8b\x9e\x82\xcc"
        "\x8e\x73\x92\xb7\x82\xcd\x81\x41\x90\x56\x82\xb5\x82\xa2\x8c\x76\x89\xe6"
        "\x82\xf0\x94\xad\x95\x5c\x82\xb5\x82\xdc\x82\xb5\x82\xbd\x81\x42 Tokyo, "
        "the mayor announced a new plan for the harbour district today.</p></body></html>";
    static const char mislabelled[] =
        "<html><head><meta charset=\"windows-1251\"><title>Zoë in Malmö</title></head><body>"
        "<p id=a>Zoë and Søren met at the café in Malmö &amp; planned their trip across the "
        "fjords.</p><p id=a>Å second paragraph with the same id, and a <b>bold</b> word.</p>"
        "<script>var s = \"<p>not text</p>\";</script></body></html>";
    static const char ascii[] = "<html><body><p>Sixteen bits a character, and still the same "
                                "sentence about the harbour.</p></body></html>";
    enum { N_FILES = sizeof(files) / sizeof(files[0]), N = N_FILES + 4 };
    char *raw[N];
    size_t len[N];
    for (size_t i = 0; i < N_FILES; i++) {
        char path[512];
        snprintf(path, sizeof(path), "%s/tests/fixtures/html/%s", NF_SOURCE_DIR, files[i]);
        raw[i] = mock_slurp(path, &len[i]);
        assert_non_null(raw[i]);
    }
    const char *made[] = {cp1252, sjis, mislabelled};
    const size_t made_len[] = {sizeof(cp1252) - 1, sizeof(sjis) - 1, sizeof(mislabelled) - 1};
    for (size_t i = 0; i < 3; i++) {
        raw[N_FILES + i] = malloc(made_len[i]);
        assert_non_null(raw[N_FILES + i]);
        memcpy(raw[N_FILES + i], made[i], made_len[i]);
        len[N_FILES + i] = made_len[i];
    }
    size_t n16 = sizeof(ascii) - 1; /* UTF-16LE with its BOM */
    raw[N - 1] = malloc(2 + 2 * n16);
    assert_non_null(raw[N - 1]);
    raw[N - 1][0] = (char)0xFF, raw[N - 1][1] = (char)0xFE;
    for (size_t i = 0; i < n16; i++)
        raw[N - 1][2 + 2 * i] = ascii[i], raw[N - 1][3 + 2 * i] = 0;
    len[N - 1] = 2 + 2 * n16;

    char *fresh[N];
    for (size_t i = 0; i < N; i++) {
        struct mock_plugin *one = mock_plugin_new("clean_html", NULL);
        assert_non_null(one);
        struct nf_record *rec = record_of(raw[i], len[i], "text/html");
        assert_int_equal(mock_process(one, rec), 0);
        fresh[i] = page_output(rec);
        nf_record_destroy(&rec);
        mock_plugin_destroy(&one);
    }
    assert_non_null(strstr(fresh[N_FILES], "Der Bürgermeister sagte, das Café am Platz"));
    assert_non_null(strstr(fresh[N_FILES + 1], "東京の市長は、新しい計画を発表しました。"));
    assert_non_null(strstr(fresh[N_FILES + 2], "Zoë and Søren met at the café in Malmö & planned"));
    assert_null(strstr(fresh[N_FILES + 2], "not text"));
    assert_non_null(strstr(fresh[N - 1], "Sixteen bits a character"));

    struct mock_plugin *shared = mock_plugin_new("clean_html", NULL);
    assert_non_null(shared);
    for (size_t round = 0; round < 2; round++)
        for (size_t k = 0; k < N; k++) {
            size_t i = round == 0 ? k : N - 1 - k;
            struct nf_record *rec = record_of(raw[i], len[i], "text/html");
            assert_int_equal(mock_process(shared, rec), 0);
            char *out = page_output(rec);
            if (strcmp(out, fresh[i]) != 0)
                fail_msg("page %zu parsed after others differs from a fresh worker's:\n%.300s\n"
                         "against\n%.300s",
                         i, out, fresh[i]);
            free(out);
            nf_record_destroy(&rec);
        }
    mock_plugin_destroy(&shared);
    for (size_t i = 0; i < N; i++)
        free(raw[i]), free(fresh[i]);
}

/* Writes code point c as UTF-8; returns its length. */
static size_t utf8_put(char *out, uint32_t c)
{
    if (c < 0x80) {
        out[0] = (char)c;
        return 1;
    }
    if (c < 0x800) {
        out[0] = (char)(0xC0 | c >> 6), out[1] = (char)(0x80 | (c & 0x3F));
        return 2;
    }
    if (c < 0x10000) {
        out[0] = (char)(0xE0 | c >> 12), out[1] = (char)(0x80 | ((c >> 6) & 0x3F));
        out[2] = (char)(0x80 | (c & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | c >> 18), out[1] = (char)(0x80 | ((c >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((c >> 6) & 0x3F)), out[3] = (char)(0x80 | (c & 0x3F));
    return 4;
}

/* The characters nfc.h says NFC leaves alone, checked against utf8proc (the library the plugin
 * normalises with, loaded as the plugin loads it): each is its own NFC with combining class 0,
 * and every pair of them is its own NFC, so that any text made of them is. */
static void test_nfc_inert_characters(void **state)
{
    (void)state;
    void *lib = dlopen("libutf8proc.so.2", RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
        fprintf(stderr, "skipped: libutf8proc.so.2 cannot be loaded (%s)\n", dlerror());
        skip();
    }
    utf8proc_ssize_t (*map)(const utf8proc_uint8_t *, utf8proc_ssize_t, utf8proc_uint8_t **,
                            utf8proc_option_t);
    const utf8proc_property_t *(*property)(utf8proc_int32_t);
    *(void **)&map = dlsym(lib, "utf8proc_map");
    *(void **)&property = dlsym(lib, "utf8proc_get_property");
    assert_non_null(map);
    assert_non_null(property);
    uint32_t *inert = malloc(0x110000 * sizeof(*inert));
    assert_non_null(inert);
    size_t n = 0;
    for (uint32_t c = 1; c < 0x110000; c++) /* NUL never reaches the text */
        if (html_nfc_inert_char(c))
            inert[n++] = c;
    char s[8];
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(property((utf8proc_int32_t)inert[i])->combining_class, 0);
        for (size_t j = 0; j < n; j++) {
            size_t len = utf8_put(s, inert[i]);
            len += utf8_put(s + len, inert[j]);
            assert_true(html_nfc_inert_text(s, len));
            utf8proc_uint8_t *nfc = NULL;
            utf8proc_ssize_t m = map((const utf8proc_uint8_t *)s, (utf8proc_ssize_t)len, &nfc,
                                     UTF8PROC_STABLE | UTF8PROC_COMPOSE);
            if (m != (utf8proc_ssize_t)len || memcmp(nfc, s, len) != 0)
                fail_msg("NFC changes U+%04X U+%04X", inert[i], inert[j]);
            free(nfc);
        }
    }
    /* and the first characters outside are not taken for inert */
    static const uint32_t outside[] = {0x0300, 0x0301, 0x2000, 0x2001, 0x2028,
                                       0x205F, 0x20AB, 0x3099, 0x1100, 0xAC00};
    for (size_t i = 0; i < sizeof(outside) / sizeof(outside[0]); i++)
        assert_false(html_nfc_inert_text(s, utf8_put(s, outside[i])));
    free(inert);
    dlclose(lib);
}

static void test_json_ld_article_body(void **state)
{
    (void)state;
    /* The page shows a teaser; the full text is in JSON-LD, inside @graph. */
    static const char html[] =
        "<html><head><script type=\"application/ld+json\">{\"@context\":\"https://schema.org\","
        "\"@graph\":[{\"@type\":\"WebPage\",\"name\":\"x\"},{\"@type\":\"NewsArticle\","
        "\"headline\":\"Harbour\",\"articleBody\":\"The harbour authority approved the "
        "expansion plan on Monday after two years of debate.\\nThe new quay will take larger "
        "ships and should open in 2027, the authority said in a statement, adding that the "
        "fishing fleet keeps its berths on the old quay.\\nLocal residents had objected to the "
        "noise of night-time loading, and the plan now limits it to weekdays.\"}]}</script>"
        "</head><body><article><p>The harbour authority approved the expansion plan on "
        "Monday.</p><p><a href='/subscribe'>Subscribe to read more</a></p></article>"
        "</body></html>";
    static const char *const in[] = {
        "after two years of debate.\n\nThe new quay", "limits it to weekdays.",
    };
    static const char *const out[] = {"Subscribe"};
    EXPECT_TEXT(html, in, out);
}

static void test_nothing_to_extract_is_an_error(void **state)
{
    (void)state;
    static const char *const pages[] = {
        ("<html><head><title>x</title></head><body><nav><a href='/'>Home</a></nav>"
         "<script>document.write('hello')</script></body></html>"),
        "<html><body>   \n  </body></html>",
        "\x01\x02\x03\x04\xff\xfe\x00\x00\x9c\x9d",
    };
    static const size_t lens[] = {0, 0, 10};
    for (size_t i = 0; i < sizeof(pages) / sizeof(pages[0]); i++) {
        size_t n = lens[i] ? lens[i] : strlen(pages[i]);
        struct nf_record *rec = run_html(pages[i], n, -1);
        if (i < 2)
            assert_non_null(strstr(mock_last_error(), "no article text found in the page"));
        else
            assert_non_null(strstr(mock_last_error(), "not HTML"));
        assert_false(nf_record_has(rec, NF_F_TEXT));
        nf_record_destroy(&rec);
    }
    /* an HTML record without bytes */
    struct nf_record *rec = nf_record_new();
    assert_non_null(rec);
    assert_int_equal(nf_record_set_cstr(rec, NF_F_ID, "0123456789abcdef0123456789abcdef"), 0);
    assert_int_equal(nf_record_set_cstr(rec, NF_F_CONTENT_TYPE, "text/html"), 0);
    assert_int_equal(mock_process(plugin, rec), -1);
    assert_non_null(strstr(mock_last_error(), "raw is missing"));
    nf_record_destroy(&rec);
}

static void test_other_records_pass_unchanged(void **state)
{
    (void)state;
    static const char body[] = "<p>This is plain text that merely looks like markup.</p>";
    struct nf_record *rec = record_of(body, sizeof(body) - 1, "text/plain");
    assert_int_equal(mock_process(plugin, rec), 0);
    assert_false(nf_record_has(rec, NF_F_TEXT));
    assert_false(nf_record_has(rec, NF_F_TITLE));
    size_t n = 0;
    const void *raw = nf_record_bytes(rec, NF_F_RAW, &n);
    assert_int_equal(n, sizeof(body) - 1);
    assert_memory_equal(raw, body, n);
    assert_string_equal(nf_record_str(rec, NF_F_CONTENT_TYPE, NULL), "text/plain");
    nf_record_destroy(&rec);
}

/* min_chars below zero would make every page too short (it is compared as a count): the
 * option table refuses it before init. */
static void test_min_chars_bound(void **state)
{
    (void)state;
    const char *const neg[] = {"min_chars=-1", NULL};
    assert_null(mock_plugin_new("clean_html", neg));
    assert_string_equal(mock_last_error(), "option 'min_chars' must be at least 0, got -1");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_real_pages_keep_article_drop_furniture),
        cmocka_unit_test(test_made_up_pages_keep_article_drop_furniture),
        cmocka_unit_test(test_prompt_alone_is_no_article),
        cmocka_unit_test(test_consent_wall_is_no_article),
        cmocka_unit_test(test_short_reports_on_consent_keep_their_text),
        cmocka_unit_test(test_banners_still_dropped),
        cmocka_unit_test(test_furniture_of_a_synthetic_page),
        cmocka_unit_test(test_nav_swallowing_the_page),
        cmocka_unit_test(test_ruby_annotations_dropped),
        cmocka_unit_test(test_teaser_lead_and_teaser_cards),
        cmocka_unit_test(test_lead_between_headline_and_body),
        cmocka_unit_test(test_hidden_class_words),
        cmocka_unit_test(test_class_words_of_each_kind),
        cmocka_unit_test(test_article_header_of_prose),
        cmocka_unit_test(test_row_of_story_cards),
        cmocka_unit_test(test_heading_over_empty_ad_slot),
        cmocka_unit_test(test_inline_furniture_in_a_paragraph),
        cmocka_unit_test(test_latin1_label_reads_as_windows_1252),
        cmocka_unit_test(test_bom_decides),
        cmocka_unit_test(test_undeclared_charsets),
        cmocka_unit_test(test_nfc_and_whitespace),
        cmocka_unit_test(test_nfc_inert_characters),
        cmocka_unit_test(test_reused_parser_gives_the_same_output),
        cmocka_unit_test(test_json_ld_article_body),
        cmocka_unit_test(test_min_chars_bound),
        cmocka_unit_test(test_long_headline_cut_between_characters),
        cmocka_unit_test(test_nothing_to_extract_is_an_error),
        cmocka_unit_test(test_other_records_pass_unchanged),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
