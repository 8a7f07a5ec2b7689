"""The style sheet and scripts inlined in every report page (no file to fetch, so the pages work offline).

* :data:`STYLE`: the layout. Pictures sit in a grid of two columns (one below 720 px, four from 2200 px), so that
  pictures that belong together (before / after, a picture and its heat map) sit side by side and a panel is at
  least :data:`desra.report.html.MIN_PANEL_WIDTH` pixels wide at usual window widths; a panel is never wider than
  its picture (thumbnails are shown at most 1:1). Crops are enlarged without smoothing. The zoom of a part and the
  severity definition are opaque full-window layers shown by the CSS ``:target`` selector.
* :data:`WATCH_SCRIPT` (in ``<head>``): records script errors and pictures that fail to load.
* :data:`PAGE_SCRIPT` (end of ``<body>``): the comparison sliders (an ``<input type="range">`` over two pictures
  sets the share of the left one shown), Esc closes a zoom, and the ``?check`` mode (see
  :mod:`desra.report.html`).
"""

STYLE = """
body { font-family: system-ui, sans-serif; margin: 1.5em; color: #222; background: #fafafa; }
h1 { margin-bottom: .2em; }
#load-status { font-weight: bold; }
#load-status.bad { color: #b00020; }
.warnings { border: 2px solid #b00020; background: #fdecea; color: #5f0010; border-radius: 6px; padding: .5em 1em;
            margin: .8em 0; font-size: 1.05em; }
.warnings p { margin: .25em 0; }
nav.pages { margin: .8em 0; }
nav.pages a, nav.pages b { margin-right: .5em; }
section.head { display: flex; flex-wrap: wrap; gap: 1.5em; align-items: flex-start; margin-bottom: 1em; }
section.head > div { background: #fff; border: 1px solid #ddd; border-radius: 6px; padding: .6em 1em; }
section.head h3 { margin: .2em 0 .5em 0; font-size: 1em; }
table.summary { border-collapse: collapse; }
table.summary td, table.summary th { border: 1px solid #ccc; padding: .25em .6em; text-align: left; }
table.summary td { text-align: right; font-variant-numeric: tabular-nums; }
.legend-note { font-size: .85em; color: #555; max-width: 36em; margin: .2em 0; }
article { background: #fff; border: 1px solid #ddd; border-radius: 6px; padding: 1em; margin: 1.2em 0; }
article h2 { margin: 0 0 .3em 0; font-size: 1.15em; }
.facts { color: #555; margin: .2em 0 .8em 0; }
.facts span { margin-right: 1.2em; white-space: nowrap; }
a.def { color: inherit; text-decoration: underline dotted; }
.panels { display: grid; grid-template-columns: repeat(2, minmax(0, max-content)); gap: .9em 1em;
          align-items: start; justify-content: start; }
@media (max-width: 720px) { .panels { grid-template-columns: minmax(0, max-content); } }
@media (min-width: 2200px) { .panels { grid-template-columns: repeat(4, minmax(0, max-content)); } }
figure { margin: 0; min-width: 0; }
figure img { width: 100%; height: auto; display: block; box-sizing: border-box; border: 1px solid #ccc;
             background: #000; }
figure.up img, .part img, .zoom img { image-rendering: pixelated; }
figcaption { font-size: .85em; color: #444; margin-top: .2em; }
svg.colour-bar { display: block; width: 100%; height: 44px; font-size: 10px; margin-top: 2px; }
.slider { position: relative; }
.slider img.top { position: absolute; top: 0; left: 0; clip-path: inset(0 calc(100% - var(--pos, 50%)) 0 0); }
.slider::after { content: ''; position: absolute; top: 0; bottom: 0; left: var(--pos, 50%); width: 2px;
                 margin-left: -1px; background: #fff; box-shadow: 0 0 0 1px rgba(0, 0, 0, .6); pointer-events: none; }
.slider::before { content: '\\2194'; position: absolute; top: 50%; left: var(--pos, 50%); z-index: 1;
                  transform: translate(-50%, -50%); width: 1.5em; height: 1.5em; line-height: 1.5em; border-radius: 50%;
                  background: #fff; color: #000; text-align: center; font-size: .9em; pointer-events: none;
                  box-shadow: 0 0 0 1px rgba(0, 0, 0, .6); }
.slider input { position: absolute; inset: 0; width: 100%; height: 100%; margin: 0; opacity: 0; cursor: ew-resize;
                -webkit-appearance: none; appearance: none; }
.slider input::-webkit-slider-thumb { -webkit-appearance: none; width: 2px; height: 40px; }
.slider input::-moz-range-thumb { width: 2px; height: 40px; }
.slider:focus-within { outline: 3px solid #1a73e8; outline-offset: 2px; }
.slider .tag { position: absolute; top: 4px; background: rgba(0, 0, 0, .65); color: #fff; font-size: .75em;
               padding: 1px 5px; pointer-events: none; }
.slider .tag.l { left: 4px; }
.slider .tag.r { right: 4px; }
.classes { display: flex; flex-wrap: wrap; gap: .2em 1em; font-size: .8em; color: #444; margin-top: .5em; }
.swatch { display: inline-block; width: .9em; height: .9em; border: 1px solid #888; vertical-align: -.1em;
          margin-right: .3em; }
.parts { display: flex; flex-wrap: wrap; gap: 1em; margin-top: 1.2em; align-items: flex-start; }
.part { border: 1px solid #ddd; border-radius: 6px; padding: .5em .7em; background: #fcfcfc; width: min-content;
        max-width: 100%; box-sizing: border-box; }
.part h3 { font-size: .95em; font-weight: normal; margin: 0 0 .4em 0; }
.part .pair { display: flex; gap: .5em; }
.part figure { max-width: calc(50% - .25em); }
.part .facts, .zoom .note { font-size: .85em; margin: .4em 0 0 0; }
.zoom { display: none; position: fixed; inset: 0; z-index: 10; background: #111; color: #eee; padding: 1em 2em;
        overflow: auto; }
.zoom:target { display: block; }
.zoom .close { position: fixed; top: .2em; right: .6em; color: #fff; font-size: 2.2em; text-decoration: none; }
.zoom .facts, .zoom .note { color: #ccc; }
.zoom a { color: #9cf; }
.zoom .crops { display: grid; grid-template-columns: repeat(auto-fill, minmax(300px, 1fr)); gap: 1em;
               align-items: start; margin-top: .8em; }
.zoom .crops .compare { grid-column: span 2; grid-row: span 2; }
@media (max-width: 1100px) { .zoom .crops .compare { grid-column: auto; grid-row: auto; } }
.zoom figure img { border-color: #444; }
.zoom figcaption { color: #ddd; font-size: .95em; }
.popup p { max-width: 46em; line-height: 1.45; }
.failures li { color: #b00020; white-space: pre-wrap; font-family: monospace; }
"""

#: In <head>: records script errors and pictures that fail to load, before the page's pictures start loading.
WATCH_SCRIPT = """
var reportErrors = [], brokenPictures = [];
window.addEventListener('error', function (event) {
  var target = event.target;
  if (target && target.tagName === 'IMG') {
    brokenPictures.push(target.getAttribute('src'));
    var status = document.getElementById('load-status');
    if (status) {
      status.className = 'bad';
      status.textContent = brokenPictures.length + ' picture(s) could not be loaded: ' + brokenPictures.join(', ');
    }
  } else {
    reportErrors.push(event.message);
  }
}, true);
"""

#: At the end of <body>: the sliders, Esc, the way back from the severity definition and the ``?check`` mode.
PAGE_SCRIPT = """
(function () {
  var body = document.body;
  document.addEventListener('input', function (event) {
    var slider = event.target.parentNode;
    if (slider && slider.classList && slider.classList.contains('slider')) {
      slider.style.setProperty('--pos', event.target.value + '%');
    }
  });
  var definitionFromPage = false;  // opened by a link of this page: its close link goes back there
  document.addEventListener('click', function (event) {
    var link = event.target.closest ? event.target.closest('a') : null;
    if (!link) { return; }
    if (link.getAttribute('href') === '#severity-definition') {
      definitionFromPage = true;
    } else if (link.classList.contains('back') && definitionFromPage) {
      definitionFromPage = false;
      event.preventDefault();
      history.back();
    }
  });
  document.addEventListener('keydown', function (event) {
    var close = event.key === 'Escape' ? document.querySelector('.zoom:target .close') : null;
    if (close) { close.click(); }
  });
  var check = /[?&]check([=&]|$)/.test(window.location.search);
  var probes = [];
  if (check) {
    var urls = [];
    Array.prototype.forEach.call(document.querySelectorAll('img[src], a.picture[href]'), function (node) {
      if (node.tagName === 'IMG') { node.loading = 'eager'; }  // measured below, so loaded now
      var url = node.getAttribute(node.tagName === 'IMG' ? 'src' : 'href');
      if (urls.indexOf(url) < 0) { urls.push(url); }
    });
    var box = document.createElement('div');
    box.hidden = true;
    urls.forEach(function (url) {
      var probe = document.createElement('img');
      probe.setAttribute('src', url);
      probes.push(probe);
      box.appendChild(probe);
    });
    body.appendChild(box);  // before the load event, which waits for these pictures
  }
  function all(selector) { return Array.prototype.slice.call(document.querySelectorAll(selector)); }
  window.addEventListener('load', function () {
    var status = document.getElementById('load-status');
    if (check) {
      var broken = probes.filter(function (img) { return !(img.complete && img.naturalWidth > 0); });
      if (broken.length) {
        status.className = 'bad';
        status.textContent = broken.length + ' of ' + probes.length + ' pictures could not be loaded: ' +
          broken.map(function (img) { return img.getAttribute('src'); }).join(', ');
      } else {
        status.textContent = 'All ' + probes.length + ' pictures loaded.';
      }
      var widths = all('.panels > figure').map(function (figure) { return figure.getBoundingClientRect().width; });
      var upscaled = all('.panels > figure img').filter(function (img) {
        return img.clientWidth > img.naturalWidth + 0.5;
      });
      var bars = all('svg.colour-bar').filter(function (bar) {
        var use = bar.querySelector('use'), img = bar.parentNode.querySelector('img');
        return use && use.getBBox().width > 0 && bar.getBoundingClientRect().height >= 30 &&
          img && bar.getBoundingClientRect().width >= img.getBoundingClientRect().width - 1;
      });
      body.setAttribute('data-images-loaded', probes.length - broken.length);
      body.setAttribute('data-images-broken', broken.length);
      body.setAttribute('data-width', window.innerWidth);
      body.setAttribute('data-panels', widths.length);
      body.setAttribute('data-narrowest-panel', widths.length ? Math.floor(Math.min.apply(null, widths)) : '');
      body.setAttribute('data-upscaled-panels', upscaled.length);
      body.setAttribute('data-colour-bars', bars.length);
    }
    if (reportErrors.length) { body.setAttribute('data-errors', reportErrors.join('\\n')); }
    body.setAttribute('data-ready', '1');
  });
})();
"""
