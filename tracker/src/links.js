// eventtracker add-on, served minified as /l.js and /js/<name>.links.js (`npm run build`):
// clicks on links to other sites ($outbound) and on links to files ($download), each
// with the link's `url` (scheme, host and path: its query and fragment stay on the
// page). Middle clicks count too. Load it beside the tracker, before or after: it hands
// its events to window.eventtracker, the snippet's queue until the tracker is there.
//
// Which paths are files: the extensions of `data-downloads` on this script's tag
// ("pdf,zip,dmg"), else the common ones below.
(function (w) {
  'use strict';
  const d = w.document;
  if (!d || w.eventtrackerLinks) return; // not a page, or included twice
  w.eventtrackerLinks = 1;
  const script = d.currentScript;
  const files = (script && script.dataset.downloads) ||
    'pdf,xlsx,xls,docx,doc,txt,rtf,csv,odt,ods,key,pps,ppt,pptx,exe,msi,dmg,pkg,apk,iso,7z,rar,gz,tgz,zip,' +
    'avi,mov,mp4,mpeg,webm,wmv,mkv,mid,midi,mp3,wav,wma,flac,epub';
  const file = new RegExp('\\.(' + files.split(',').join('|') + ')$', 'i');

  const clicked = (e) => {
    if (e.type == 'auxclick' && e.button != 1) return; // a middle click opens a tab
    const a = e.target && e.target.closest && e.target.closest('a[href]');
    if (!a) return;
    let u;
    try {
      u = new URL(a.href, w.location.href);
    } catch (x) {
      return;
    }
    if (!/^https?:$/.test(u.protocol)) return; // mailto:, tel:, javascript:
    const name = file.test(u.pathname) ? '$download' : u.host != w.location.host ? '$outbound' : 0;
    // The tracker's queue survives the page going away (a beacon on pagehide).
    if (name) (w.eventtracker = w.eventtracker || []).push(['track', name, { url: u.origin + u.pathname }]);
  };
  d.addEventListener('click', clicked, true);
  d.addEventListener('auxclick', clicked, true);
})(globalThis);
