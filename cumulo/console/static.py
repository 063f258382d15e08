"""The console's stylesheet and script, bundled: nothing is fetched from elsewhere at run time.
The script only enhances (sample events into the test form, the live log tail, where a line that is a
JSON object is shown as its fields); every page works without it, and it never puts received text
into markup (``textContent`` only)."""

from __future__ import annotations

__all__ = ["CSS", "JS"]

CSS = """
:root{--fg:#16191f;--muted:#545b64;--bg:#fff;--line:#d5dbdb;--accent:#0b5fa5;--bad:#b0001e;--good:#1d6b2f;
--run:#8a5a00;--soft:#f2f3f3}
*{box-sizing:border-box}body{margin:0;font:15px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;color:var(--fg);
background:var(--bg)}a{color:var(--accent)}a:focus,button:focus,input:focus,select:focus,textarea:focus{
outline:3px solid #f0a000;outline-offset:1px}.skip{position:absolute;left:-999px}.skip:focus{left:8px;top:8px;
background:#fff;padding:4px;z-index:2}header{background:#232f3e;color:#fff}header nav{display:flex;gap:18px;
align-items:center;padding:10px 18px}header a{color:#fff;text-decoration:none}header a[aria-current]{
text-decoration:underline;font-weight:600}.brand{margin-right:12px}.logout{margin-left:auto}main{padding:8px 22px 40px;
max-width:1200px}h1{font-size:1.5em;margin:.6em 0}h2{font-size:1.15em;margin:1.4em 0 .5em}table{border-collapse:collapse;
width:100%;margin:.3em 0 1em}th,td{text-align:left;padding:5px 8px;border-bottom:1px solid var(--line);
vertical-align:top}th{background:var(--soft);font-weight:600}td.num,th.num{text-align:right;font-variant-numeric:
tabular-nums}.bad,.failed-text{color:var(--bad);font-weight:600}.good{color:var(--good)}.muted{color:var(--muted)}
dl.config{display:grid;grid-template-columns:max-content 1fr;gap:4px 16px}dl.config dt{color:var(--muted)}
dl.config dd{margin:0;overflow-wrap:anywhere}pre,.log{background:#0f1b2a;color:#e8eef5;padding:10px;overflow:auto;
max-height:420px;font:13px/1.4 ui-monospace,Menlo,Consolas,monospace;white-space:pre-wrap;overflow-wrap:anywhere}
.log .report{color:#9fd3ff}.log .error{color:#ff9b9b}.log .start{color:#b7f7b0}.log .mark{color:#aab}
form.inline{display:inline}button,.button{background:var(--accent);color:#fff;border:0;border-radius:4px;
padding:6px 14px;font:inherit;cursor:pointer;text-decoration:none;display:inline-block}button.danger{
background:var(--bad)}button.plain{background:var(--soft);color:var(--fg);border:1px solid var(--line)}
textarea{width:100%;min-height:12em;font:13px ui-monospace,monospace}label{display:block;margin:.5em 0 .2em;
font-weight:600}input[type=text],input[type=password],input[type=search],select{padding:5px;font:inherit;
min-width:18em;border:1px solid #879196;border-radius:3px}.flash{padding:8px 12px;border-left:4px solid
var(--accent);background:#eef6fc;margin:.6em 0}.flash.error{border-color:var(--bad);background:#fdf0f1}
.graph{max-width:100%;height:auto;background:#fbfbfb;border:1px solid var(--line)}.graph .state rect{fill:#fff;
stroke:#687078;stroke-width:1.5}.graph .state text{font:12px system-ui,sans-serif;text-anchor:middle;fill:#16191f}
.graph .visited rect{fill:#e6f4ea;stroke:var(--good)}.graph .failed rect{fill:#fde7ea;stroke:var(--bad);
stroke-width:3}.graph .failed text{fill:var(--bad);font-weight:700}.graph .current rect{fill:#fff4d6;stroke:var(--run);
stroke-width:3}.graph .edge{fill:none;stroke:#879196;stroke-width:1.3}.graph .edge.catch{stroke-dasharray:4 3}
.graph .edge.branch,.graph .edge.join{stroke-dasharray:2 3}.graph .edge.walked{stroke:var(--good);stroke-width:2.2}
.graph marker path{fill:#687078}.triggers{max-width:100%;height:auto;background:#fbfbfb;border:1px solid var(--line)}
.triggers rect{fill:#fff;stroke:#687078;stroke-width:1.5}.triggers text{font:12px system-ui,sans-serif;fill:#16191f}
.triggers .function rect{fill:#eef4fb;stroke:#0b5cad;stroke-width:2}.triggers .edge{fill:none;stroke:#687078;
stroke-width:1.3}.triggers marker path{fill:#687078}.triggers .destination rect{stroke-dasharray:5 3}.status-FAILED,.status-TIMED_OUT,.status-ABORTED{color:var(--bad);font-weight:600}
.status-SUCCEEDED{color:var(--good)}.status-RUNNING{color:var(--run)}.login{max-width:28em}.pager{margin:.5em 0}
.log .field{display:inline-block;margin-right:10px;padding:0 4px;background:#1d3047;border-radius:3px}
.pill{display:inline-block;padding:0 6px;border-radius:8px;background:var(--soft);font-size:.85em}
.charts{display:grid;grid-template-columns:repeat(auto-fit,minmax(420px,1fr));gap:12px}.chart{margin:0;
border:1px solid var(--line);padding:6px}.chart figcaption{font-weight:600}.chart-svg{width:100%;height:auto}
.chart .grid{stroke:var(--line)}.chart .axis{font:11px system-ui,sans-serif;fill:var(--muted)}.line{fill:none;
stroke-width:1.8;stroke:var(--accent)}.line.s1{stroke:var(--bad)}.line.s2{stroke:var(--run)}.line.s3{stroke:#5a2d82}
.legend{list-style:none;padding:0;margin:2px 0;display:flex;flex-wrap:wrap;gap:4px 14px;font-size:.85em}
.spark{vertical-align:middle}.spark .line{stroke-width:1.5}label.inline-label{display:inline;font-weight:400}
"""

JS = """
(function(){
  var pick=document.getElementById('sample');
  if(pick){pick.addEventListener('change',function(){
    var o=pick.options[pick.selectedIndex];var t=document.getElementById('payload');
    if(o&&o.dataset.event!==undefined&&t){t.value=o.dataset.event;}});}
  var tail=document.getElementById('tail');
  if(tail&&window.EventSource){
    var state=document.getElementById('tail-state');
    var src=new EventSource(tail.dataset.stream);
    src.onopen=function(){if(state)state.textContent='live';};
    src.onerror=function(){if(state)state.textContent='reconnecting…';};
    src.onmessage=function(ev){
      var rec;try{rec=JSON.parse(ev.data);}catch(e){return;}
      var line=document.createElement('div');var m=rec.message||'';
      line.className=/^REPORT /.test(m)?'report':/^START /.test(m)?'start':
        (/^\\[ERROR\\]|\\tERROR\\t|Task timed out/.test(m)?'error':'');
      var who=document.createElement('span');who.className='mark';
      who.textContent=(rec.function?rec.function+' ':'')+new Date(rec.timestamp).toISOString().slice(11,23)+' ';
      line.appendChild(who);
      var doc=null;if(/^\\s*\\{/.test(m)){try{doc=JSON.parse(m);}catch(e){doc=null;}}
      if(doc&&typeof doc==='object'&&!Array.isArray(doc)){
        Object.keys(doc).forEach(function(k){var f=document.createElement('span');f.className='field';
          var v=doc[k];f.textContent=k+'='+(typeof v==='string'?v:JSON.stringify(v));line.appendChild(f);});
      }else{line.appendChild(document.createTextNode(m));}
      var empty=document.getElementById('tail-empty');if(empty)empty.remove();
      tail.appendChild(line);while(tail.childNodes.length>2000)tail.removeChild(tail.firstChild);
      tail.scrollTop=tail.scrollHeight;};
  }
})();
"""
