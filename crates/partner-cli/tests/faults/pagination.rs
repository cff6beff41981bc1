//! `partner users list` against pagination traps, and the memory bound of a long listing.
//!
//! Bounds met here (see `docs/robustness.md`): a `next` link is followed on the API's origin
//! only, never to a page fetched before (page 1 with and without `?page=1` being one page),
//! at most `PODERO_MAX_PAGES` pages (default 10 000); the listing is streamed, so its memory
//! is bounded by one page, whatever the number of pages.

use partner_emulator::{Endpoint, Fault, ListFormat, PaginationTrap};
use serde_json::json;

use crate::support::{Ctx, Row};

use Endpoint::{ListUsers, PoderoToken};

/// `partner users list` over three real users, two a page, with `trap` for `times` pages.
fn trapped(format: ListFormat, trap: PaginationTrap, times: u32) -> Row {
    Row::users(&["list"])
        .setup(move |cx| {
            cx.emulator.set_list_format(format);
            cx.create_users(3);
            cx.emulator
                .inject_fault(ListUsers, Fault::pagination(trap).times(times));
        })
        .requests(PoderoToken, 1)
}

fn results() -> ListFormat {
    ListFormat::Results { page_size: 2 }
}

/// A `next` link to `next(cx)`, which the client must not follow.
fn linked_away(next: fn(&Ctx<'_>) -> String) -> Row {
    Row::users(&["list"])
        .other_origin()
        .setup(move |cx| {
            cx.emulator.set_list_format(results());
            cx.create_users(3);
            let next = next(cx);
            cx.emulator.inject_fault(
                ListUsers,
                Fault::pagination(PaginationTrap::CrossOrigin { next }).times(10),
            );
        })
        .exits(4)
        .requests(PoderoToken, 1)
        .requests(ListUsers, 1)
}

/// How many pages the memory row lists, and how large each is.
const PAGES: usize = 100;
const USERS_PER_PAGE: usize = 80;
const FILLER_CHARS: usize = 64_000;

/// The `results` of one 5 MB page: 80 users whose `street_add_info` holds 64 000 characters.
fn five_megabyte_page() -> String {
    let filler = "Hinterhaus, 3. OG links, bitte klingeln ".repeat(FILLER_CHARS / 40);
    let users: Vec<_> = (0..USERS_PER_PAGE)
        .map(|n| {
            json!({
                "id": format!("016b78a7-0c7c-4241-a277-{n:012}"),
                "email": format!("bulk-{n}@example.com"),
                "role": "user",
                "street_add_info": filler,
            })
        })
        .collect();
    serde_json::to_string(&users).unwrap()
}

rows! {
    // A page whose `next` is itself: one request, then the loop is reported.
    pagination_self_link: trapped(results(), PaginationTrap::SelfLink, 10)
        .exits(4)
        .says("pagination loops")
        .says("after 1 page)")
        .requests(ListUsers, 1);
    // Page 1 -> page 2 -> `?page=1`: caught after 2 pages and 2 requests, not 10 001.
    pagination_cycle: trapped(results(), PaginationTrap::Cycle, 1_000)
        .exits(4)
        .says("pagination loops")
        .says("after 2 pages")
        .requests(ListUsers, 2);
    pagination_cycle_items_envelope: trapped(ListFormat::Items { page_size: 2 }, PaginationTrap::Cycle, 1_000)
        .exits(4)
        .says("after 2 pages")
        .requests(ListUsers, 2);
    // Fresh pages for ever: the page bound (PODERO_MAX_PAGES, here 50) ends it.
    pagination_endless_fresh_pages: trapped(ListFormat::Results { page_size: 1 }, PaginationTrap::Endless, 100_000)
        .env("PODERO_MAX_PAGES", "50")
        .exits(4)
        .says("pagination does not end within 50 pages")
        .requests(ListUsers, 50);
    // One page of 100 000 users (about 30 MB): over the 16 MiB bound, refused unread. The
    // emulator takes seconds to build it on a busy machine: the timeout waits for it.
    pagination_huge_page_over_the_bound: trapped(results(), PaginationTrap::HugePage { users: 100_000 }, 1)
        .env("PODERO_TIMEOUT", "60")
        .exits(4)
        .says("larger than 16777216 bytes")
        .requests(ListUsers, 1)
        .max_rss_mib(96)
        .within(60);
    // One page of 20 000 users (about 6 MB): within the bound, listed.
    pagination_huge_page_within_the_bound: trapped(results(), PaginationTrap::HugePage { users: 20_000 }, 1)
        .env("PODERO_TIMEOUT", "60")
        .prints("trap-1-0@example.com")
        .requests(ListUsers, 1)
        .within(60);

    // `next` on another origin: exit 4, the server is blamed, nothing is sent there.
    pagination_next_on_another_origin: linked_away(|cx| format!("{}/api/partners/v2.0/org/{}/users?page=2", cx.other_base(), cx.emulator.org_id()))
        .says("the server linked the next page to another origin")
        .says("nothing was sent there")
        .never_says("check the configuration");
    pagination_next_on_another_scheme: linked_away(|cx| cx.users_url().replacen("http://", "https://", 1) + "?page=2")
        .says("the server linked the next page to another origin");
    pagination_next_not_a_url: linked_away(|_| "javascript:alert(1)".to_owned())
        .says("the server linked the next page to another origin");
    pagination_next_with_control_characters: linked_away(|cx| format!("{}/\u{1b}[2J\u{7}\r\nerror: forged", cx.other_base()))
        .says("the server linked the next page to another origin")
        .no_line_starts_with("error: forged");

    // Issue 12, defect 5: 100 pages of 5 MB (500 MB in all) are streamed to stdout page by
    // page. The peak resident memory of the process, polled from /proc/<pid>/status (VmHWM),
    // must stay below 64 MiB, an eighth of the total (about 30 MiB in practice); holding
    // the pages would take more than the total.
    users_list_100_pages_of_5_mb_in_bounded_memory: Row::users(&["list"])
        .setup(|cx| {
            cx.emulator.set_list_format(ListFormat::Results { page_size: 1 });
            cx.create_users(PAGES);
            let page = five_megabyte_page();
            assert!((5_000_000..5_500_000).contains(&page.len()), "{}", page.len());
            cx.emulator.inject_fault(
                ListUsers,
                Fault::json_field("results", page).times(u32::try_from(PAGES).unwrap()),
            );
        })
        .requests(PoderoToken, 1)
        .requests(ListUsers, u64::try_from(PAGES).unwrap())
        .prints("bulk-0@example.com")
        .max_rss_mib(64)
        .within(240);
}
