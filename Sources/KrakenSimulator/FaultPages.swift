/// Bodies of injected non-JSON responses (Cloudflare / gateway pages, broken JSON).
enum FaultPages {
    static let notFound = "<html><head><title>404 Not Found</title></head><body><h1>Not Found</h1></body></html>\n"

    static func page(_ status: Int) -> String {
        let (title, text): (String, String)
        switch status {
        case 520:
            (title, text) = ("api.kraken.com | 520: Web server is returning an unknown error", "Web server is returning an unknown error")
        case 502: (title, text) = ("api.kraken.com | 502: Bad gateway", "Bad gateway")
        case 504: (title, text) = ("api.kraken.com | 504: Gateway time-out", "Gateway time-out")
        default: (title, text) = ("500 Internal Server Error", "Internal Server Error")
        }
        return """
            <!DOCTYPE html>
            <!--[if lt IE 7]> <html class="no-js ie6 oldie" lang="en-US"> <![endif]-->
            <html lang="en-US">
            <head>
            <title>\(title)</title>
            <meta charset="UTF-8" />
            <meta name="robots" content="noindex, nofollow" />
            </head>
            <body>
            <div id="cf-wrapper"><div id="cf-error-details" class="p-0">
            <header class="mx-auto pt-10 lg:pt-6 lg:px-8 w-240 lg:w-full mb-8">
            <h1 class="inline-block sm:block sm:mb-2 font-light text-60 lg:text-4xl text-black-dark leading-tight mr-2">
            <span class="inline-block">\(text)</span>
            <span class="code-label">Error code \(status)</span></h1>
            </header>
            <div class="cf-error-footer">Cloudflare Ray ID: 7e1c2f3a4b5c6d7e &bull; Performance &amp; security by Cloudflare</div>
            </div></div>
            </body>
            </html>

            """
    }

    /// A body that looks like an envelope but is not valid JSON.
    static func malformed(_ rng: inout SeededRandom) -> String {
        let variants = [
            "{\"error\":[],\"result\":{\"ledger\":{\"L4UESK-KG3EQ-UFO4T5\":{\"refid\":\"THVRQM-33VKH-UCI7BS\",\"time\":1688667796.8802,,}}}",
            "{'error': [], 'result': {}}",
            "{\"error\":[],\"result\":{\"count\":NaN}}",
            "<html><body>upstream connect error or disconnect/reset before headers</body></html>",
        ]
        return rng.pick(variants)
    }
}
