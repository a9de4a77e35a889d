#include "dashboard.h"

namespace etcdmon::gateway::detail {
namespace {

// Kept dependency-free (no CDN): the page must work on an isolated network.
// Colours are never the only signal: every state also has a word and a symbol. Unknown values
// (JSON null) show an en dash, never 0; figures a member no longer reports are grey, italic and
// tagged "stale" with their time. Pending alerts are listed only on request ("#pending" in the
// URL ticks the box, so a bookmark or a test can ask). body[data-refreshes] counts the completed
// refreshes, for browser tests (tests/browser). A stale snapshot (the aggregator stopped) shows a
// banner "Data is stale since ..." above everything.
constexpr std::string_view kHtml = R"HTML(<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>etcd-monitor</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="dashboard.css"></head><body>
<h1>etcd-monitor <small id="cluster"></small></h1>
<div id="err" role="alert"></div>
<div id="stale-banner" role="alert" hidden></div>
<div class="cards" id="status"></div>
<h2>Members</h2><table id="members"><thead><tr><th>name</th><th>endpoint</th><th>health</th>
<th>leader</th><th>raft term</th><th>revision</th><th>db size</th><th>read p99 ms</th><th>write p99 ms</th></tr></thead><tbody></tbody></table>
<h2>Latency (ms)</h2><table id="latency"><thead><tr><th></th><th>p50</th><th>p95</th><th>p99</th></tr></thead><tbody></tbody></table>
<h2>Alerts <small id="alert-counts"></small></h2>
<p><label><input type="checkbox" id="show-pending"> also show pending alerts (<span id="pending-count">0</span>)</label></p>
<table id="alerts"><thead><tr><th>state</th><th>severity</th><th>rule</th><th>member</th><th>summary</th><th>since</th></tr></thead><tbody></tbody></table>
<p><small>Refreshes every 5 s. Data: <a href="api/v1/cluster/status">status</a>,
<a href="api/v1/cluster/members">members</a>, <a href="api/v1/metrics/latency">latency</a>,
<a href="api/v1/alerts">alerts</a>, <a href="metrics">metrics</a>.</small></p>
<script src="dashboard.js"></script></body></html>
)HTML";

// The page's style and script are files of their own, not inline, so that the page's
// Content-Security-Policy can forbid inline script and style (see http_server.cpp).
constexpr std::string_view kStyle =
    R"CSS(body{font-family:system-ui,sans-serif;margin:1.5em;color:#222;background:#fafafa}
h1{font-size:1.4em}h2{font-size:1.1em;margin-top:1.5em}
table{border-collapse:collapse;background:#fff}td,th{border:1px solid #ccc;padding:.3em .6em;text-align:left}
td.num{text-align:right;font-variant-numeric:tabular-nums}
.ok{color:#070}.bad{color:#b00;font-weight:bold}.warn{color:#a55a00;font-weight:bold}#err{color:#b00}
.stale,tr.pending td{color:#666;font-style:italic;font-weight:normal}
.tag{display:inline-block;font-size:.8em;font-style:normal;border:1px solid currentColor;border-radius:.3em;padding:0 .3em;margin-left:.3em}
.cards span{display:inline-block;background:#fff;border:1px solid #ccc;padding:.5em 1em;margin:.2em}
.cards span.state{border-width:2px}.cards span.state.ok{border-color:#070}.cards span.state.warn{border-color:#a55a00}
.cards span.state.bad{border-color:#b00}
#stale-banner{background:#fff3cd;border:2px solid #b00;color:#b00;font-weight:bold;padding:.5em 1em;margin:.5em 0}
:focus-visible{outline:2px solid #05a;outline-offset:2px}
)CSS";

constexpr std::string_view kScript = R"JS("use strict";
const DASH="\u2013";
const SYMBOL={ok:"\u2714 ",warn:"\u26a0 ",bad:"\u2716 "};
const STATES={healthy:"ok",degraded:"warn",no_leader:"bad",no_quorum:"bad",split_brain:"bad",stale:"bad",unknown:"bad"};
let refreshes=0,alerts=[];
function esc(v){return String(v==null?"":v).replace(/[&<>"']/g,c=>({"&":"&amp;","<":"&lt;",">":"&gt;",'"':"&quot;","'":"&#39;"}[c]));}
function fmt(v){return v==null?DASH:(typeof v==="number"?String(Math.round(v*100)/100):esc(v));}
function bytes(v){
 if(typeof v!=="number"||!isFinite(v))return DASH;
 const units=["B","KiB","MiB","GiB","TiB","PiB","EiB"];let i=0;
 while(i<units.length-1&&Math.abs(v)>=(i?1023.5:1024)){v/=1024;i++;}
 return (i==0?String(v):Math.abs(v)<99.95?v.toFixed(1):v.toFixed(0))+" "+units[i];
}
function marked(level,text){return "<b class='"+level+"'>"+(SYMBOL[level]||"")+esc(text)+"</b>";}
function rows(id,list){document.querySelector("#"+id+" tbody").innerHTML=list.join("");}
async function get(path){const r=await fetch(path);const j=await r.json();if(!r.ok)throw new Error(path+": "+(j.error?j.error.message:r.status));return j;}
// The cluster's state; from the booleans when the gateway does not send "state".
function clusterState(s){
 if(typeof s.state==="string"&&s.state)return s.state;
 if(s.split_brain&&s.split_brain.detected)return "split_brain";
 if(!s.has_leader)return "no_leader";
 if(!s.quorum_ok)return "no_quorum";
 if(s.degraded||(s.healthy&&s.healthy_members<s.member_count))return "degraded";
 return s.healthy?"healthy":"unknown";
}
// The aggregator stopped publishing: everything below is its last word, said so above it all.
function renderStale(s){
 const banner=document.getElementById("stale-banner");
 banner.hidden=s.stale!==true;
 banner.textContent=s.stale===true?"\u26a0 Data is stale since "+s.stale_since+": no snapshot from the aggregator since "+
  s.last_update+" ("+Math.round(s.snapshot_age_seconds)+" s ago); the figures below are its last.":"";
}
function renderStatus(s){
 renderStale(s);
 document.getElementById("cluster").textContent=s.cluster+" "+s.cluster_id;
 const state=clusterState(s),level=STATES[state]||"bad";
 const c=(k,v,level)=>"<span>"+k+": "+marked(level,v)+"</span>";
 const members=s.healthy_members==s.member_count?"ok":s.quorum_ok?"warn":"bad";
 document.getElementById("status").innerHTML=
  "<span class='state "+level+"' id='state' data-state='"+esc(state)+"'>state: "+marked(level,state.replace(/_/g," "))+"</span>"+
  c("leader",s.leader?s.leader.name:"none",s.has_leader?"ok":"bad")+
  c("members",s.healthy_members+"/"+s.member_count+" healthy",members)+c("quorum",s.quorum_ok?"ok":"lost",s.quorum_ok?"ok":"bad")+
  c("split brain",s.split_brain.detected?"detected":"no",s.split_brain.detected?"bad":"ok")+
  "<span>leader changes: "+fmt(s.leader_changes)+"</span>"+c("alarms",s.alarms.length,s.alarms.length?"bad":"ok")+
  "<span>updated "+esc(s.last_update)+"</span>"+(s.health_reason?"<div class='warn'>"+esc(s.health_reason)+"</div>":"");
}
function renderMember(x){
 const stale=x.figures_stale===true;
 const title=stale?"stale: last figures as of "+(x.figures_as_of||"unknown"):"";
 // A figure cell; a known figure of a stale member is greyed and says when it is from.
 const fig=(v,html,title2)=>{const old=stale&&v!=null,t=[old?title:"",title2||""].filter(Boolean).join("; ");
  return "<td class='num"+(old?" stale":"")+"'"+(t?" title='"+esc(t)+"'":"")+">"+html+"</td>";};
 const p99=l=>l?l.p99_ms:null;
 const health=x.health=="healthy"?"ok":x.health=="stale"||x.health=="unknown"?"warn":"bad";
 return "<tr data-member='"+esc(x.name)+"'><td>"+esc(x.label)+"</td><td>"+esc(x.endpoint)+"</td><td>"+marked(health,x.health)+
  (x.reason?" ("+esc(x.reason)+")":"")+(stale?"<span class='tag stale' tabindex='0' title='"+esc(title)+"'>stale</span>":"")+
  "</td><td>"+(x.is_leader?"&#9733; leader":"")+"</td>"+fig(x.raft_term,fmt(x.raft_term))+fig(x.revision,fmt(x.revision))+
  fig(x.db_size_bytes,bytes(x.db_size_bytes),typeof x.db_size_bytes==="number"?x.db_size_bytes+" bytes":"")+
  fig(p99(x.read_latency),fmt(p99(x.read_latency)))+fig(p99(x.write_latency),fmt(p99(x.write_latency)))+"</tr>";
}
// Firing alerts always; pending ones (greyed, marked) only with the box ticked.
function renderAlerts(){
 const show=document.getElementById("show-pending").checked;
 const firing=alerts.filter(a=>a.state!=="pending"),pending=alerts.filter(a=>a.state==="pending");
 document.getElementById("pending-count").textContent=pending.length;
 document.getElementById("alert-counts").textContent=firing.length+" firing, "+pending.length+" pending";
 const list=show?firing.concat(pending):firing;
 const sev=v=>v=="critical"?"bad":v=="warning"?"warn":"";
 rows("alerts",list.length?list.map(x=>"<tr class='"+esc(x.state)+"'><td>"+(x.state=="pending"?"&#9711; pending":marked("bad",x.state||"firing"))+
  "</td><td>"+(sev(x.severity)?marked(sev(x.severity),x.severity):esc(x.severity))+"</td><td>"+esc(x.rule)+"</td><td>"+esc(x.member)+
  "</td><td>"+esc(x.summary)+"</td><td>"+esc(x.started_at)+"</td></tr>"):
  ["<tr><td colspan=6 class='ok'>no firing alerts"+(pending.length&&!show?" ("+pending.length+" pending not shown)":"")+"</td></tr>"]);
}
async function refresh(){
 const errors=[];
 try{renderStatus(await get("api/v1/cluster/status"));}catch(e){errors.push(e.message);}
 try{rows("members",(await get("api/v1/cluster/members")).members.map(renderMember));}catch(e){errors.push(e.message);}
 try{const l=await get("api/v1/metrics/latency");
  const r=(n,p)=>"<tr><td>"+n+"</td><td class='num'>"+fmt(p&&p.p50_ms)+"</td><td class='num'>"+fmt(p&&p.p95_ms)+"</td><td class='num'>"+fmt(p&&p.p99_ms)+"</td></tr>";
  rows("latency",[r("read",l.read),r("write",l.write),r("wal fsync",l.wal_fsync),r("backend commit",l.backend_commit)]);
 }catch(e){errors.push(e.message);}
 try{alerts=(await get("api/v1/alerts")).alerts;renderAlerts();}catch(e){errors.push(e.message);}
 document.getElementById("err").textContent=errors.join("; ");
 document.body.dataset.refreshes=++refreshes;
}
const box=document.getElementById("show-pending");
box.checked=location.hash=="#pending";
box.addEventListener("change",()=>{history.replaceState(null,"",box.checked?"#pending":location.pathname+location.search);renderAlerts();});
refresh();setInterval(refresh,5000);
)JS";

}  // namespace

std::string_view DashboardHtml() { return kHtml; }

std::string_view DashboardStyle() { return kStyle; }

std::string_view DashboardScript() { return kScript; }

}  // namespace etcdmon::gateway::detail
